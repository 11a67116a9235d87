using { AuditService } from '../../srv/audit-service';

// Round trips: the timeline of batched calls per invitation, the inbound calls that name an
// invitation, and a plain list of every HTTP exchange.

annotate AuditService.RoundTripItems with @(
  UI.HeaderInfo: {
    TypeName      : 'Round Trip Item',
    TypeNamePlural: 'Round Trip Items',
    Title         : { Value: operation },
    Description   : { Value: outcome }
  },
  UI.LineItem: [
    { Value: at },
    { Value: system },
    { Value: operation },
    { Value: outcome },
    { Value: httpStatus },
    { Value: upstreamCode },
    { Value: code },
    { Value: message }
  ],
  UI.LineItem #Timeline: [
    { Value: at, @HTML5.CssDefaults: { width: '12rem' } },
    { Value: system, @HTML5.CssDefaults: { width: '7rem' } },
    { Value: operation, @HTML5.CssDefaults: { width: '10rem' } },
    { Value: outcome, @HTML5.CssDefaults: { width: '10rem' } },
    { Value: httpStatus, @HTML5.CssDefaults: { width: '7rem' } },
    { Value: upstreamCode, @HTML5.CssDefaults: { width: '8rem' } },
    { Value: code, @HTML5.CssDefaults: { width: '6rem' } },
    { Value: message, @HTML5.CssDefaults: { width: '20rem' } },
    { Value: durationMs, @HTML5.CssDefaults: { width: '8rem' } },
    { Value: attempt, @HTML5.CssDefaults: { width: '6rem' } },
    { Value: itemCount, @HTML5.CssDefaults: { width: '8rem' } }
  ],
  UI.PresentationVariant #Timeline: {
    SortOrder     : [{ Property: at }],
    Visualizations: [ '@UI.LineItem#Timeline' ]
  }
);

annotate AuditService.RoundTripItems with {
  at           @title: 'At';
  direction    @title: 'Direction';
  system       @title: 'System';
  operation    @title: 'Operation';
  httpStatus   @title: 'HTTP Status';
  upstreamCode @title: 'Upstream Code';
  durationMs   @title: 'Duration (ms)';
  attempt      @title: 'Attempt';
  itemCount    @title: 'Items in Call';
};

annotate AuditService.RoundTrips with @(
  UI.HeaderInfo: {
    TypeName      : 'Round Trip',
    TypeNamePlural: 'Round Trips',
    Title         : { Value: operation },
    Description   : { Value: path }
  },
  UI.SelectionFields: [ system, direction, operation, httpStatus, at ],
  UI.LineItem: [
    { Value: at },
    { Value: direction },
    { Value: system },
    { Value: operation },
    { Value: method },
    { Value: path },
    { Value: httpStatus },
    { Value: upstreamCode },
    { Value: attempt },
    { Value: durationMs },
    { Value: itemCount },
    { Value: error }
  ],
  UI.PresentationVariant: {
    SortOrder     : [{ Property: at, Descending: true }],
    Visualizations: [ '@UI.LineItem' ]
  },
  UI.LineItem #InboundCalls: [
    { Value: at },
    { Value: system },
    { Value: operation },
    { Value: httpStatus },
    { Value: durationMs },
    { Value: error }
  ],
  UI.PresentationVariant #InboundCalls: {
    SortOrder     : [{ Property: at }],
    Visualizations: [ '@UI.LineItem#InboundCalls' ]
  },
  UI.Facets: [
    { $Type: 'UI.ReferenceFacet', ID: 'Exchange', Label: 'Exchange', Target: '@UI.FieldGroup#Exchange' },
    { $Type: 'UI.ReferenceFacet', ID: 'Items', Label: 'Invitations in This Call', Target: 'items/@UI.LineItem' }
  ],
  UI.FieldGroup #Exchange: { Data: [
    { Value: at },
    { Value: direction },
    { Value: system },
    { Value: operation },
    { Value: method },
    { Value: path },
    { Value: httpStatus },
    { Value: upstreamCode },
    { Value: upstreamRequestId },
    { Value: attempt },
    { Value: durationMs },
    { Value: itemCount },
    { Value: error },
    { Value: batch_ID },
    { Value: invitation_ID }
  ] }
);
