// Ids in OpenAI's style: a kind prefix and random hex (conv_…, msg_…, fc_…, fco_…).

import { randomBytes } from 'node:crypto';

export type IdKind = 'conv' | 'msg' | 'fc' | 'fco';

/** A new random id of `kind`: 24 random bytes, so ids are not guessable. */
export const newId = (kind: IdKind) => `${kind}_${randomBytes(24).toString('hex')}`;
