// The data a report is drawn from: plain JSON-able values, so a workflow can hand it to an activity and a
// finished run's report can be re-rendered from a stored copy.

export interface Point {
  x: number;
  y: number;
}

export interface LineSeries {
  name: string;
  points: Point[];
}

export interface LineChart {
  kind: 'line';
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
}

export interface Bar {
  label: string;
  value: number;
  /** optional confidence interval drawn as an error bar */
  low?: number;
  high?: number;
}

export interface BarChart {
  kind: 'bar';
  id: string;
  title: string;
  yLabel: string;
  bars: Bar[];
}

export type Chart = LineChart | BarChart;

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

/** A page the report links to (a relative path, e.g. a run's rollout browser beside the report). */
export interface Link {
  text: string;
  href: string;
}

export interface ReportData {
  title: string;
  subtitle?: string;
  links?: Link[];
  generatedAt: string;
  tables: Table[];
  charts: Chart[];
  notes?: string[];
}
