using { surveybridge as db } from '../db/schema';

/** Read access to the audit trail, and campaign administration. */
@path: '/audit'
@requires: ['AuditViewer', 'Admin']
service AuditService {
  // The survey link is left out because its Q_DL token lets anyone answer as the contact.
  @readonly entity SurveyInvitations as projection on db.SurveyInvitations {
    *,
    /** Inbound calls that carry this invitation's ID: the Emarsys webhook and the Qualtrics score call. */
    inboundCalls : Association to many RoundTrips on inboundCalls.invitation = $self and inboundCalls.direction = 'inbound',
    /** UI criticality of the status: 1 negative, 2 critical, 3 positive, 0 neutral (still in progress). */
    case
      when status in ('failed', 'contactNotFound', 'linkNotFound') then 1
      when status in ('suppressedUnsubscribed', 'suppressedFrequency', 'suppressedFatigue') then 2
      when status in ('eventTriggered', 'responded', 'scoreStored') then 3
      else 0
    end as statusCriticality : Integer,
    /** UI criticality of the NPS category: detractor 1, passive 2, promoter 3, none 0. */
    case npsCategory
      when 'detractor' then 1
      when 'passive' then 2
      when 'promoter' then 3
      else 0
    end as npsCriticality : Integer
  } excluding { surveyLink };

  /** Invitation statuses that occur in the data, for filter value help. */
  @readonly @cds.redirection.target: false
  entity InvitationStatuses as select from db.SurveyInvitations distinct { key status };

  /** NPS categories that occur in the data, for filter value help. */
  @readonly @cds.redirection.target: false
  entity NpsCategories as select from db.SurveyInvitations distinct { key npsCategory } where npsCategory is not null;

  @readonly entity RoundTrips as projection on db.RoundTrips;

  /** Permissions of the signed-in user, which the UI reads to hide buttons that the service would reject with 403. */
  @odata.singleton @cds.persistence.skip @readonly
  entity CurrentUser {
    // A singleton needs no key, but some OData clients expect one.
    key ID   : String;
    /** True for users without the Admin role. */
    viewOnly : Boolean;
  }

  /** Per-invitation outcome of a batched round trip, with the round trip's own fields for the timeline. */
  @readonly entity RoundTripItems as projection on db.RoundTripItems {
    *,
    roundTrip.at           as at,
    roundTrip.direction    as direction,
    roundTrip.system       as system,
    roundTrip.operation    as operation,
    roundTrip.httpStatus   as httpStatus,
    roundTrip.upstreamCode as upstreamCode,
    roundTrip.durationMs   as durationMs,
    roundTrip.attempt      as attempt,
    roundTrip.itemCount    as itemCount
  };

  @readonly entity ScoreResponses as projection on db.ScoreResponses;
  @readonly entity WorkBatches as projection on db.WorkBatches;

  // Admins edit campaigns in a draft, so validation messages point at fields before anything is stored.
  @odata.draft.enabled
  @restrict: [
    { grant: 'READ', to: ['AuditViewer', 'Admin'] },
    { grant: ['CREATE', 'UPDATE', 'DELETE'], to: 'Admin' }
  ]
  entity Campaigns as projection on db.Campaigns {
    *,
    /** Copy of CurrentUser.viewOnly on each row, for the UI.Hidden annotations of the campaign actions. */
    virtual viewOnly : Boolean,
    funnel      : Association to one CampaignFunnels on funnel.campaign_ID = $self.ID,
    funnelSteps : Association to many CampaignFunnelSteps on funnelSteps.campaign_ID = $self.ID,
    npsSplit    : Association to many CampaignNpsSplits on npsSplit.campaign_ID = $self.ID
  };

  /**
   * Funnel and NPS split of one campaign over all its invitations and cycles. Each step counts the
   * invitations that reached it (its timestamp is set), so a step never counts more than the one before.
   * NPS is the share of promoters minus the share of detractors among scored answers, in points.
   */
  @readonly @cds.redirection.target: false
  entity CampaignFunnels as select from db.Campaigns {
    key ID                                     as campaign_ID,
        code,
        count(invitations.ID)                  as invited        : Integer,
        count(invitations.linkIssuedAt)        as linkIssued     : Integer,
        count(invitations.eventTriggeredAt)    as eventTriggered : Integer,
        count(invitations.respondedAt)         as responded      : Integer,
        count(invitations.scoreStoredAt)       as scoreStored    : Integer,
        sum(case when invitations.npsCategory = 'detractor' then 1 else 0 end) as detractors : Integer,
        sum(case when invitations.npsCategory = 'passive' then 1 else 0 end)   as passives   : Integer,
        sum(case when invitations.npsCategory = 'promoter' then 1 else 0 end)  as promoters  : Integer,
        case when count(invitations.npsCategory) = 0 then null
             else round(100.0 * (sum(case when invitations.npsCategory = 'promoter' then 1 else 0 end)
                               - sum(case when invitations.npsCategory = 'detractor' then 1 else 0 end))
                        / count(invitations.npsCategory), 0)
        end                                    as nps            : Integer
  } group by ID, code;

  /** The funnel as one row per step, for charts over the steps of a campaign. */
  @readonly entity CampaignFunnelSteps as
              select from CampaignFunnels { key campaign_ID, key 1 as position : Integer, 'Invited' as step : String(20), invited as invitations : Integer }
    union all select from CampaignFunnels { key campaign_ID, key 2 as position : Integer, 'Link issued' as step : String(20), linkIssued as invitations : Integer }
    union all select from CampaignFunnels { key campaign_ID, key 3 as position : Integer, 'Event triggered' as step : String(20), eventTriggered as invitations : Integer }
    union all select from CampaignFunnels { key campaign_ID, key 4 as position : Integer, 'Responded' as step : String(20), responded as invitations : Integer }
    union all select from CampaignFunnels { key campaign_ID, key 5 as position : Integer, 'Score stored' as step : String(20), scoreStored as invitations : Integer };

  /** Answers per NPS category, one row per category, with the criticality that colors it (1 red, 2 yellow, 3 green). */
  @readonly entity CampaignNpsSplits as
              select from CampaignFunnels { key campaign_ID, key 'detractor' as category : String(10), detractors as answers : Integer, 1 as criticality : Integer }
    union all select from CampaignFunnels { key campaign_ID, key 'passive' as category : String(10), passives as answers : Integer, 2 as criticality : Integer }
    union all select from CampaignFunnels { key campaign_ID, key 'promoter' as category : String(10), promoters as answers : Integer, 3 as criticality : Integer };
}
