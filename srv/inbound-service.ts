import cds from '@sap/cds';
import { bodyProblemOf } from './inbound/body-parser';
import { InputError, campaignCodeOf, webhookContactOf } from './inbound/validation';
import { acceptInvitation, campaignByCode, recordRejectedCall } from './inbound/intake';
import { ingestScore } from './inbound/scores';

const LOG = cds.log('inbound');

/** Rejects an input problem with a JSON error naming the field, after recording the rejected call. */
async function rejectInput(req: cds.Request, system: 'emarsys' | 'qualtrics', error: InputError, started: number): Promise<void> {
  await recordRejectedCall(system, req.event, error.status, error.message, Date.now() - started);
  LOG.info(`${req.event} rejected with ${error.status} ${error.code}`, { target: error.target });
  req.reject({ status: error.status, code: error.code, message: error.message, target: error.target });
}

export default class InboundService extends cds.ApplicationService {
  init() {
    this.on('generateLink', async req => {
      const started = Date.now();
      try {
        const problem = bodyProblemOf(req.http?.req as any);
        if (problem) throw new InputError(problem.status, problem.code, problem.message, problem.target);
        const body = (req.data as any).body as Record<string, unknown>;
        const code = campaignCodeOf(body);
        const campaign = await campaignByCode(code);
        if (!campaign) {
          throw new InputError(404, 'CAMPAIGN_NOT_FOUND', `Campaign '${code}' does not exist; check the campaign code in the Webhook Node Preset`, 'campaign');
        }
        if (!campaign.active) {
          throw new InputError(409, 'CAMPAIGN_INACTIVE', `Campaign '${code}' is not active; activate it before the Emarsys program runs`, 'campaign');
        }
        const contact = webhookContactOf(body, campaign);
        const receipt = await acceptInvitation({ campaign, ...contact, durationMs: Date.now() - started });
        req.http?.res?.status(202);
        return receipt;
      } catch (error) {
        if (error instanceof InputError) return rejectInput(req, 'emarsys', error, started);
        throw error;
      }
    });

    this.on('ingestScore', async req => {
      const started = Date.now();
      try {
        const problem = bodyProblemOf(req.http?.req as any);
        if (problem) throw new InputError(problem.status, problem.code, problem.message, problem.target);
        const outcome = await ingestScore((req.data as any).body, started);
        if (outcome.httpStatus >= 400) {
          const error = outcome.body.error as { code: string; message: string; target?: string };
          return req.reject({ status: outcome.httpStatus, ...error });
        }
        req.http?.res?.status(outcome.httpStatus);
        return outcome.body;
      } catch (error) {
        if (error instanceof InputError) return rejectInput(req, 'qualtrics', error, started);
        throw error;
      }
    });

    return super.init();
  }
}
