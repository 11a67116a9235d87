// Annotations of the audit app, one file per concern.
using from './labels';
using from './invitations';
using from './round-trips';
using from './campaigns';
using from './scores-and-batches';
