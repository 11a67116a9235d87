/*
 * Personal data of the Emarsys contacts that Survey Bridge invites. The data subject is the contact,
 * identified by its Emarsys key value (contactKey). @cap-js/audit-logging reads these annotations:
 * changes made through a service are logged as PersonalDataModified, and reads of sensitive elements
 * as SensitiveDataRead. The intake writes straight to the database, outside any service, so the
 * webhook path pays nothing for audit logging.
 */
using { surveybridge } from './schema';

annotate surveybridge.SurveyInvitations with @PersonalData: {
  EntitySemantics: 'DataSubject',
  DataSubjectRole: 'Contact'
} {
  contactKey         @PersonalData.FieldSemantics: 'DataSubjectID';
  firstName          @PersonalData.IsPotentiallyPersonal;
  lastName           @PersonalData.IsPotentiallyPersonal;
  language           @PersonalData.IsPotentiallyPersonal;
  // A survey link opens the contact's personal survey without further login, so reading it is logged.
  surveyLink         @PersonalData.IsPotentiallySensitive;
  qualtricsContactId @PersonalData.IsPotentiallyPersonal;
  qualtricsLookupId  @PersonalData.IsPotentiallyPersonal;
  emarsysContactId   @PersonalData.IsPotentiallyPersonal;
  // Emarsys error texts repeat the key value, for example "No contact found with the external id: 3 - <email>".
  lastError          @PersonalData.IsPotentiallyPersonal;
};

annotate surveybridge.ScoreResponses with @PersonalData.EntitySemantics: 'Other' {
  invitation @PersonalData.FieldSemantics: 'DataSubjectID';
  // The invitation id or the contact's extRef, as the Qualtrics workflow sent it.
  contactRef @PersonalData.IsPotentiallyPersonal;
};

annotate surveybridge.RoundTripItems with @PersonalData.EntitySemantics: 'Other' {
  invitation @PersonalData.FieldSemantics: 'DataSubjectID';
  message    @PersonalData.IsPotentiallyPersonal;
};

annotate surveybridge.SurveyLinks with @PersonalData.EntitySemantics: 'Other' {
  invitation @PersonalData.FieldSemantics: 'DataSubjectID';
  surveyLink         @PersonalData.IsPotentiallySensitive;
  qualtricsContactId @PersonalData.IsPotentiallyPersonal;
};
