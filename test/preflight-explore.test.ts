import cds from '@sap/cds';
import { useStack, USERS } from './support/stack';
const stack = useStack();
const ID = '6f1c2a52-4b7e-4c1e-9a55-0c7d2b8e1a01';
async function call(method: string, path: string, body?: unknown) {
  const r = await fetch(`${stack.url}${path}`, { method, headers: { 'content-type': 'application/json', authorization: 'Basic ' + Buffer.from('admin:admin').toString('base64') }, body: body === undefined ? undefined : JSON.stringify(body) });
  const t = await r.text(); console.log(method, path, r.status, t.slice(0, 600)); return r.status;
}
test('explore', async () => {
  await cds.tx(() => UPDATE('surveybridge.Campaigns').set({ active: false }).where({ ID }));
  await call('POST', `/audit/Campaigns(ID=${ID},IsActiveEntity=true)/AuditService.draftEdit`, { PreserveChanges: true });
  await call('PATCH', `/audit/Campaigns(ID=${ID},IsActiveEntity=false)`, { active: true });
  await call('POST', `/audit/Campaigns(ID=${ID},IsActiveEntity=false)/AuditService.draftActivate`, {});
  await call('POST', `/audit/Campaigns(ID=${ID},IsActiveEntity=true)/AuditService.activate`, {});
  await call('POST', `/audit/Campaigns(ID=${ID},IsActiveEntity=false)/AuditService.preflight`, {});
  await call('PATCH', `/audit/Campaigns(ID=${ID},IsActiveEntity=false)`, { active: false, name: 'x' });
  await call('POST', `/audit/Campaigns(ID=${ID},IsActiveEntity=false)/AuditService.draftActivate`, {});
  await call('POST', `/audit/Campaigns`, { code: 'NEW-1', surveyId: 'SV_SANDBOX000001', directoryId: 'POOL_SANDBOX00001', mailingListId: 'CG_SANDBOX000001', externalEventId: '4711', scoreFieldId: '10001', categoryFieldId: '10002' });
  await call('PATCH', `/audit/Campaigns(ID=${ID},IsActiveEntity=true)`, { active: true });
  const audit: any = cds.services.AuditService;
  try { await audit.run(UPDATE(audit.entities.Campaigns).set({ active: true }).where({ ID })); console.log('direct ok'); } catch (e: any) { console.log('direct', e); }
  try { await audit.run(INSERT.into(audit.entities.Campaigns).entries({ code: 'NEW-2', surveyId: 'SV_SANDBOX000001', directoryId: 'POOL_SANDBOX00001', mailingListId: 'CG_SANDBOX000001', externalEventId: '4711', scoreFieldId: '10001', categoryFieldId: '10002' })); console.log('direct insert ok'); } catch (e: any) { console.log('direct insert', e); }
  console.log(await cds.tx(() => SELECT.from('surveybridge.Campaigns').columns('code','active','name')));
});
