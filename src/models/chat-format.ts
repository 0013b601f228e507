// OpenAI's chat format as token arithmetic: pure numbers shared by the tokenizer (src/models/tokens.ts) and
// the pure fitting of conversations (src/conversation/fit.ts), which must not load the tokenizer.

/** Every message costs 3 tokens of framing plus its role and content. */
export const perMessage = 3;
/** A message with a name costs 1 more (plus the name). */
export const perName = 1;
/** Every reply is primed with 3 tokens. */
export const replyPriming = 3;
