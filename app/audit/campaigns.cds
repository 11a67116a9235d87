using { AuditService } from '../../srv/audit-service';

// Campaigns: list report with the funnel per campaign, an object page that administrators edit in a
// draft, and charts of the funnel and the NPS split.

annotate AuditService.Campaigns with @(
  UI.HeaderInfo: {
    TypeName      : 'Campaign',
    TypeNamePlural: 'Campaigns',
    Title         : { Value: code },
    Description   : { Value: name }
  },
  UI.SelectionFields: [ code, active ],
  // Viewers may read campaigns only, so Create, Edit, Delete and the actions are hidden for them.
  UI.CreateHidden: { $edmJson: { $Path: '/AuditService.EntityContainer/CurrentUser/viewOnly' } },
  UI.UpdateHidden: { $edmJson: { $Path: '/AuditService.EntityContainer/CurrentUser/viewOnly' } },
  UI.DeleteHidden: { $edmJson: { $Path: '/AuditService.EntityContainer/CurrentUser/viewOnly' } },
  // SAPUI5 1.136 showed a header action whose UI.Hidden pointed at the singleton, so the actions read
  // the same flag from the campaign row.
  UI.Identification: [
    { $Type: 'UI.DataFieldForAction', Action: 'AuditService.preflight', Label: 'Run Preflight', ![@UI.Hidden]: viewOnly },
    // An active campaign needs no activation, so the button shows only on inactive ones.
    { $Type: 'UI.DataFieldForAction', Action: 'AuditService.activate', Label: 'Activate', ![@UI.Hidden]: (viewOnly = true or active = true) }
  ],
  UI.LineItem: [
    { Value: code },
    { Value: name },
    { Value: active },
    { Value: linkValidityDays },
    { Value: funnel.invited, Label: 'Invited' },
    { Value: funnel.linkIssued, Label: 'Link Issued' },
    { Value: funnel.eventTriggered, Label: 'Event Triggered' },
    { Value: funnel.responded, Label: 'Responded' },
    { Value: funnel.scoreStored, Label: 'Score Stored' },
    { Value: funnel.nps, Label: 'NPS' }
  ],
  UI.PresentationVariant: {
    SortOrder     : [{ Property: code }],
    Visualizations: [ '@UI.LineItem' ]
  },

  UI.DataPoint #Nps: { Value: funnel.nps, Title: 'NPS' },
  UI.HeaderFacets: [
    { $Type: 'UI.ReferenceFacet', ID: 'FunnelChart', Target: 'funnelSteps/@UI.PresentationVariant#Funnel' },
    { $Type: 'UI.ReferenceFacet', ID: 'NpsSplitChart', Target: 'npsSplit/@UI.PresentationVariant#NpsSplit' },
    { $Type: 'UI.ReferenceFacet', ID: 'NpsHeader', Target: '@UI.DataPoint#Nps' }
  ],

  UI.Facets: [
    { $Type: 'UI.ReferenceFacet', ID: 'General', Label: 'General', Target: '@UI.FieldGroup#General' },
    { $Type: 'UI.ReferenceFacet', ID: 'Qualtrics', Label: 'Qualtrics', Target: '@UI.FieldGroup#Qualtrics' },
    { $Type: 'UI.ReferenceFacet', ID: 'Emarsys', Label: 'Emarsys', Target: '@UI.FieldGroup#Emarsys' },
    {
      $Type : 'UI.CollectionFacet',
      ID    : 'Results',
      Label : 'Funnel and NPS',
      Facets: [
        { $Type: 'UI.ReferenceFacet', ID: 'Funnel', Label: 'Funnel', Target: '@UI.FieldGroup#Funnel' },
        { $Type: 'UI.ReferenceFacet', ID: 'NpsSplit', Label: 'NPS Split', Target: '@UI.FieldGroup#NpsSplit' }
      ]
    },
    { $Type: 'UI.ReferenceFacet', ID: 'Invitations', Label: 'Invitations', Target: 'invitations/@UI.LineItem' }
  ],
  UI.FieldGroup #General: { Data: [
    { Value: code },
    { Value: name },
    { Value: active },
    { Value: linkValidityDays },
    { Value: contactKeyProperty }
  ] },
  UI.FieldGroup #Qualtrics: { Data: [
    { Value: surveyId },
    { Value: directoryId },
    { Value: mailingListId }
  ] },
  UI.FieldGroup #Emarsys: { Data: [
    { Value: externalEventId },
    { Value: keyFieldId },
    { Value: scoreFieldId },
    { Value: categoryFieldId }
  ] },
  UI.FieldGroup #Funnel: { Data: [
    { Value: funnel.invited, Label: 'Invited' },
    { Value: funnel.linkIssued, Label: 'Link Issued' },
    { Value: funnel.eventTriggered, Label: 'Event Triggered' },
    { Value: funnel.responded, Label: 'Responded' },
    { Value: funnel.scoreStored, Label: 'Score Stored' }
  ] },
  UI.FieldGroup #NpsSplit: { Data: [
    { Value: funnel.detractors, Label: 'Detractors (0-6)' },
    { Value: funnel.passives, Label: 'Passives (7-8)' },
    { Value: funnel.promoters, Label: 'Promoters (9-10)' },
    { Value: funnel.nps, Label: 'NPS' }
  ] }
);

// Input checks with messages that name the field and the expected value. CAP runs them on every write
// through AuditService. For a draft, the failures show when the administrator saves, and the draft keeps
// the values entered. The Emarsys id formats match the preflight checks in srv/preflight/campaign-checks.ts.
annotate AuditService.Campaigns with {
  code @mandatory.message: 'Enter the Campaign Code.'
       @assert.format: '^[A-Za-z0-9][A-Za-z0-9_.-]*$'
       @assert.format.message: 'Campaign Code may contain only letters, digits, ".", "_" and "-", because the Emarsys webhook sends it as the campaign value.';
  surveyId @mandatory.message: 'Enter the Qualtrics Survey ID.'
           @assert.format: '^SV_[A-Za-z0-9]+$'
           @assert.format.message: 'Qualtrics Survey ID must start with "SV_" followed by letters and digits, for example SV_1AbC2dEf3GhI4jK.';
  directoryId @mandatory.message: 'Enter the Qualtrics Directory ID.'
              @assert.format: '^POOL_[A-Za-z0-9]+$'
              @assert.format.message: 'Qualtrics Directory ID must start with "POOL_" followed by letters and digits.';
  mailingListId @mandatory.message: 'Enter the Qualtrics Mailing List ID.'
                @assert.format: '^CG_[A-Za-z0-9]+$'
                @assert.format.message: 'Qualtrics Mailing List ID must start with "CG_" followed by letters and digits.';
  linkValidityDays @assert.range.message: 'Link Validity (Days) must be between 1 and 365.';
  externalEventId @mandatory.message: 'Enter the Emarsys External Event ID.'
                  @assert.format: '^[0-9]{1,10}$'
                  @assert.format.message: 'Emarsys External Event ID must be a number.';
  keyFieldId @assert.format: '^([0-9]{1,10}|id|uid)$'
             @assert.format.message: 'Emarsys Key Field ID must be a field number, such as 3 for the email field, or "id" or "uid" for the Emarsys internal contact ID.';
  scoreFieldId @mandatory.message: 'Enter the Emarsys Score Field ID.'
               @assert.format: '^[0-9]{1,10}$'
               @assert.format.message: 'Emarsys Score Field ID must be a field number.';
  categoryFieldId @mandatory.message: 'Enter the Emarsys Category Field ID.'
                  @assert.format: '^[0-9]{1,10}$'
                  @assert.format.message: 'Emarsys Category Field ID must be a field number.';
  viewOnly    @UI.Hidden;
  funnel      @UI.Hidden;
  funnelSteps @UI.Hidden;
  npsSplit    @UI.Hidden;
};

annotate AuditService.Campaigns with actions {
  activate(
    override @title: 'Activate Despite Errors',
    reason   @title: 'Reason for Activating Despite Errors'
  );
};

annotate AuditService.CampaignFunnels with @UI.LineItem: [
  { Value: code },
  { Value: invited },
  { Value: linkIssued },
  { Value: eventTriggered },
  { Value: responded },
  { Value: scoreStored },
  { Value: detractors },
  { Value: passives },
  { Value: promoters },
  { Value: nps }
] {
  campaign_ID    @UI.Hidden;
  code           @title: 'Campaign Code';
  invited        @title: 'Invited';
  linkIssued     @title: 'Link Issued';
  eventTriggered @title: 'Event Triggered';
  responded      @title: 'Responded';
  scoreStored    @title: 'Score Stored';
  detractors     @title: 'Detractors';
  passives       @title: 'Passives';
  promoters      @title: 'Promoters';
  nps            @title: 'NPS';
};

annotate AuditService.CampaignFunnelSteps with @(
  UI.Chart #Funnel: {
    Title            : 'Funnel',
    Description      : 'Invitations that reached each step',
    ChartType        : #Column,
    Dimensions       : [ step ],
    Measures         : [ invitations ],
    MeasureAttributes: [{ Measure: invitations, Role: #Axis1, DataPoint: '@UI.DataPoint#FunnelStep' }]
  },
  UI.DataPoint #FunnelStep: { Value: invitations, Title: 'Invitations' },
  UI.PresentationVariant #Funnel: {
    SortOrder     : [{ Property: position }],
    Visualizations: [ '@UI.Chart#Funnel' ]
  },
  UI.LineItem: [ { Value: position }, { Value: step }, { Value: invitations } ]
) {
  position    @title: 'Position';
  step        @title: 'Step';
  invitations @title: 'Invitations';
};

annotate AuditService.CampaignNpsSplits with @(
  UI.Chart #NpsSplit: {
    Title            : 'NPS Split',
    Description      : 'Answers per NPS category',
    ChartType        : #Bar,
    Dimensions       : [ category ],
    Measures         : [ answers ],
    MeasureAttributes: [{ Measure: answers, Role: #Axis1, DataPoint: '@UI.DataPoint#NpsAnswers' }]
  },
  UI.DataPoint #NpsAnswers: { Value: answers, Title: 'Answers', Criticality: criticality },
  UI.PresentationVariant #NpsSplit: {
    SortOrder     : [{ Property: criticality }],
    Visualizations: [ '@UI.Chart#NpsSplit' ]
  },
  UI.LineItem: [ { Value: category, Criticality: criticality }, { Value: answers } ]
) {
  category    @title: 'NPS Category';
  answers     @title: 'Answers';
  criticality @UI.Hidden;
};
