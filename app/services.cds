// UI models that CAP loads from app/: the Fiori elements annotations of the audit app.
using from './audit/annotations';
