using { AuditService } from '../../srv/audit-service';

// Invitations: list report with the columns that tell an invitation's story, and an object page with
// the step timestamps and every round trip the invitation took part in.

annotate AuditService.SurveyInvitations with @(
  UI.HeaderInfo: {
    TypeName      : 'Invitation',
    TypeNamePlural: 'Invitations',
    Title         : { Value: contactKey },
    Description   : { Value: campaign.code }
  },
  UI.SelectionFields: [ campaign_ID, status, npsCategory, receivedAt ],
  UI.LineItem: [
    { Value: contactKey, @HTML5.CssDefaults: { width: '16rem' } },
    { Value: campaign.code, Label: 'Campaign', @HTML5.CssDefaults: { width: '9rem' } },
    { Value: status, Criticality: statusCriticality, @HTML5.CssDefaults: { width: '12rem' } },
    { Value: score, @HTML5.CssDefaults: { width: '5rem' } },
    { Value: npsCategory, Criticality: npsCriticality, @HTML5.CssDefaults: { width: '8rem' } },
    { Value: linkExpiresAt, @HTML5.CssDefaults: { width: '12rem' } },
    { Value: lastError, @HTML5.CssDefaults: { width: '20rem' } },
    { Value: receivedAt, @HTML5.CssDefaults: { width: '12rem' } },
    { $Type: 'UI.DataFieldForAction', Action: 'AuditService.replay', Label: 'Replay' }
  ],
  UI.Identification: [
    { $Type: 'UI.DataFieldForAction', Action: 'AuditService.replay', Label: 'Replay' }
  ],
  UI.PresentationVariant: {
    SortOrder     : [{ Property: receivedAt, Descending: true }],
    Visualizations: [ '@UI.LineItem' ]
  },

  UI.DataPoint #Status: { Value: status, Title: 'Status', Criticality: statusCriticality },
  UI.DataPoint #Score: { Value: score, Title: 'Score', TargetValue: 10, Visualization: #Progress, Criticality: npsCriticality },
  UI.DataPoint #NpsCategory: { Value: npsCategory, Title: 'NPS Category', Criticality: npsCriticality },
  UI.HeaderFacets: [
    { $Type: 'UI.ReferenceFacet', ID: 'StatusHeader', Target: '@UI.DataPoint#Status' },
    { $Type: 'UI.ReferenceFacet', ID: 'ScoreHeader', Target: '@UI.DataPoint#Score' },
    { $Type: 'UI.ReferenceFacet', ID: 'NpsCategoryHeader', Target: '@UI.DataPoint#NpsCategory' }
  ],

  UI.Facets: [
    { $Type: 'UI.ReferenceFacet', ID: 'Steps', Label: 'Steps', Target: '@UI.FieldGroup#Steps' },
    { $Type: 'UI.ReferenceFacet', ID: 'Timeline', Label: 'Round-Trip Timeline', Target: 'roundTrips/@UI.PresentationVariant#Timeline' },
    { $Type: 'UI.ReferenceFacet', ID: 'InboundCalls', Label: 'Inbound Calls', Target: 'inboundCalls/@UI.PresentationVariant#InboundCalls' },
    {
      $Type : 'UI.CollectionFacet',
      ID    : 'Details',
      Label : 'Details',
      Facets: [
        { $Type: 'UI.ReferenceFacet', ID: 'Contact', Label: 'Contact', Target: '@UI.FieldGroup#Contact' },
        { $Type: 'UI.ReferenceFacet', ID: 'Correlation', Label: 'Correlation IDs', Target: '@UI.FieldGroup#Correlation' }
      ]
    }
  ],
  UI.FieldGroup #Steps: { Data: [
    { Value: receivedAt },
    { Value: linkIssuedAt },
    { Value: eventTriggeredAt },
    { Value: respondedAt },
    { Value: scoreStoredAt },
    { Value: finishedAt },
    { Value: linkExpiresAt },
    { Value: cycleEndsAt }
  ] },
  UI.FieldGroup #Contact: { Data: [
    { Value: contactKey },
    { Value: firstName },
    { Value: lastName },
    { Value: language },
    { Value: campaign.code, Label: 'Campaign' },
    { Value: cycle },
    { Value: lastError }
  ] },
  UI.FieldGroup #Correlation: { Data: [
    { Value: ID },
    { Value: batch_ID },
    { Value: qualtricsContactId },
    { Value: qualtricsLookupId },
    { Value: transactionId },
    { Value: transactionBatchId },
    { Value: distributionId },
    { Value: responseId },
    { Value: triggerId },
    { Value: emarsysContactId }
  ] }
);

annotate AuditService.SurveyInvitations with {
  campaign @(
    Common.Text           : campaign.code,
    Common.TextArrangement: #TextOnly,
    Common.ValueList      : {
      CollectionPath: 'Campaigns',
      Parameters    : [
        { $Type: 'Common.ValueListParameterInOut', LocalDataProperty: campaign_ID, ValueListProperty: 'ID' },
        { $Type: 'Common.ValueListParameterDisplayOnly', ValueListProperty: 'code' },
        { $Type: 'Common.ValueListParameterDisplayOnly', ValueListProperty: 'name' }
      ]
    }
  );
  status @(
    Common.ValueListWithFixedValues,
    Common.ValueList: {
      CollectionPath: 'InvitationStatuses',
      Parameters    : [{ $Type: 'Common.ValueListParameterInOut', LocalDataProperty: status, ValueListProperty: 'status' }]
    }
  );
  npsCategory @(
    Common.ValueListWithFixedValues,
    Common.ValueList: {
      CollectionPath: 'NpsCategories',
      Parameters    : [{ $Type: 'Common.ValueListParameterInOut', LocalDataProperty: npsCategory, ValueListProperty: 'npsCategory' }]
    }
  );
  statusCriticality @UI.Hidden;
  npsCriticality    @UI.Hidden;
};

annotate AuditService.InvitationStatuses with @UI.LineItem: [{ Value: status }] {
  status @title: 'Status';
};

annotate AuditService.NpsCategories with @UI.LineItem: [{ Value: npsCategory }] {
  npsCategory @title: 'NPS Category';
};
