/** The NPS rules: what counts as a score, its category, and the check against Qualtrics' NPS group. */

export type NpsCategory = 'detractor' | 'passive' | 'promoter';

export type ScoreReading =
  | { valid: true; score: number; category: NpsCategory }
  | { valid: false; reason: string };

/** Qualtrics' NPS group codes: 1 detractor (0-6), 2 passive (7-8), 3 promoter (9-10). */
const GROUP_CATEGORY: Record<string, NpsCategory> = { '1': 'detractor', '2': 'passive', '3': 'promoter' };

export function categoryOf(score: number): NpsCategory {
  if (score <= 6) return 'detractor';
  if (score <= 8) return 'passive';
  return 'promoter';
}

/**
 * Reads an NPS answer: a whole number 0 to 10, as a JSON number or as a string after trimming white
 * space. "0" and 0 are scores. Empty, missing, null, -99 (Qualtrics' "seen but not answered"),
 * out-of-range, non-numeric and fractional values are not.
 */
export function readScore(raw: unknown): ScoreReading {
  if (raw === undefined || raw === null) return { valid: false, reason: 'the answer is missing' };
  let score: number;
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return { valid: false, reason: 'the answer is not a finite number' };
    if (!Number.isInteger(raw)) return { valid: false, reason: `the answer ${raw} is not a whole number` };
    score = raw;
  } else if (typeof raw === 'string') {
    const text = raw.trim();
    if (text === '') return { valid: false, reason: 'the answer is empty' };
    if (text === '-99') return { valid: false, reason: 'the answer is -99, which Qualtrics sends for a question seen but not answered' };
    if (/^[+-]?\d+[.,]\d+$/.test(text)) return { valid: false, reason: `the answer '${text}' is not a whole number` };
    if (!/^[+-]?\d+$/.test(text)) return { valid: false, reason: `the answer '${text.slice(0, 40)}' is not a number` };
    score = Number(text);
  } else {
    return { valid: false, reason: `the answer must be a number or a string, not ${Array.isArray(raw) ? 'an array' : typeof raw}` };
  }
  if (score < 0 || score > 10) return { valid: false, reason: `the answer ${score} is outside 0 to 10` };
  return { valid: true, score, category: categoryOf(score) };
}

/**
 * Checks Qualtrics' NPS group against the category of the score. Returns an error text, or undefined
 * when the group is absent or agrees.
 */
export function groupMismatch(rawGroup: unknown, category: NpsCategory): string | undefined {
  if (rawGroup === undefined || rawGroup === null) return undefined;
  const text = String(rawGroup).trim();
  if (text === '') return undefined;
  const groupCategory = GROUP_CATEGORY[text];
  if (!groupCategory) return `npsGroup '${text.slice(0, 20)}' is not 1, 2 or 3`;
  if (groupCategory !== category) return `npsGroup ${text} (${groupCategory}) does not agree with the score's category ${category}`;
  return undefined;
}
