import { categoryOf, groupMismatch, readScore } from '../srv/inbound/score-rules';

describe('readScore', () => {
  const valid: Array<[unknown, number]> = [
    [0, 0], ['0', 0], [' 0 ', 0], [10, 10], ['10', 10], ['\t7\n', 7], [6, 6], ['9', 9], ['+8', 8], ['07', 7]
  ];
  test.each(valid)('%j is the score %d', (raw, score) => {
    const reading = readScore(raw);
    expect(reading.valid).toBe(true);
    if (reading.valid) expect(reading.score).toBe(score);
  });

  const invalid: Array<[unknown, RegExp]> = [
    [undefined, /missing/], [null, /missing/], ['', /empty/], ['   ', /empty/], ['-99', /-99/], [-99, /outside/],
    [11, /outside/], ['11', /outside/], [-1, /outside/], ['-1', /outside/], [7.5, /whole/], ['7.5', /whole/],
    ['7,5', /whole/], ['seven', /not a number/], ['7a', /not a number/], [true, /number or a string/],
    [[7], /an array/], [{ value: 7 }, /number or a string/], [Number.NaN, /finite/], ['1e1', /not a number/]
  ];
  test.each(invalid)('%j is invalid', (raw, reason) => {
    const reading = readScore(raw);
    expect(reading.valid).toBe(false);
    if (!reading.valid) expect(reading.reason).toMatch(reason);
  });
});

describe('categoryOf', () => {
  const cases: Array<[number, string]> = [
    [0, 'detractor'], [6, 'detractor'], [7, 'passive'], [8, 'passive'], [9, 'promoter'], [10, 'promoter']
  ];
  test.each(cases)('%d is a %s', (score, category) => {
    expect(categoryOf(score)).toBe(category);
  });
});

describe('groupMismatch', () => {
  test.each([[undefined], [null], [''], ['  ']])('absent group %j is accepted', group => {
    expect(groupMismatch(group, 'promoter')).toBeUndefined();
  });

  const agreeing: Array<[unknown, 'detractor' | 'passive' | 'promoter']> = [['1', 'detractor'], [2, 'passive'], [' 3 ', 'promoter']];
  test.each(agreeing)('group %j agrees with %s', (group, category) => {
    expect(groupMismatch(group, category)).toBeUndefined();
  });

  test('group of another category is a mismatch', () => {
    expect(groupMismatch('3', 'detractor')).toMatch(/does not agree/);
  });

  test('group outside 1 to 3 is a mismatch', () => {
    expect(groupMismatch('4', 'promoter')).toMatch(/not 1, 2 or 3/);
  });
});
