using { AuditService } from '../../srv/audit-service';

// Score responses and work batches: plain lists for the Fiori preview.

annotate AuditService.ScoreResponses with @(
  UI.HeaderInfo: {
    TypeName      : 'Score Response',
    TypeNamePlural: 'Score Responses',
    Title         : { Value: responseId },
    Description   : { Value: contactRef }
  },
  UI.SelectionFields: [ status, npsCategory, receivedAt ],
  UI.LineItem: [
    { Value: responseId },
    { Value: contactRef },
    { Value: rawScore },
    { Value: score },
    { Value: npsCategory },
    { Value: status },
    { Value: lastError },
    { Value: receivedAt },
    { Value: storedAt }
  ]
);

annotate AuditService.WorkBatches with @(
  UI.HeaderInfo: {
    TypeName      : 'Work Batch',
    TypeNamePlural: 'Work Batches',
    Title         : { Value: contents },
    Description   : { Value: ID }
  },
  UI.SelectionFields: [ contents, status ],
  UI.LineItem: [
    { Value: createdAt, Label: 'Created At' },
    { Value: contents },
    { Value: size },
    { Value: status },
    { Value: attempts },
    { Value: distributionId },
    { Value: lastError },
    { Value: finishedAt }
  ]
);
