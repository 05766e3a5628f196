import { resolve } from 'node:path';
import { refuseControlChars } from '../util/control-chars.ts';

/** The folder of the embedded default stores. @public */
export function tributaryHome(home?: string): string {
  return resolve(refuseControlChars('home folder', home ?? process.env.TRIBUTARY_HOME ?? '.tributary'));
}
