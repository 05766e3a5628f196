import { remoteComputeSuite } from './remote-compute-suite.ts';

remoteComputeSuite('kubernetes');
