/** One bench figure: a value against its goal, with the raw numbers behind it. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  goal: string;
  pass: boolean;
  raw: string;
}
