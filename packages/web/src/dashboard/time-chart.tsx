import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { formatNumber } from './format.js';

export interface SeriesSpec {
  label: string;
  color: string;
  dashed?: boolean;
  filled?: boolean;
}

interface TimeChartProps {
  /** The `data-chart` test hook. */
  name: string;
  title: string;
  series: SeriesSpec[];
  /** x in epoch seconds, then one array per series. */
  data: uPlot.AlignedData;
  /** Shown after values in the legend. */
  unit?: string;
  height?: number;
}

const axisStyle = { stroke: '#667085', grid: { stroke: '#eef0f5', width: 1 }, ticks: { stroke: '#eef0f5', width: 1 } };
/** Whole seconds and up: the window is five minutes, so uPlot's sub-second ticks would only be noise. */
const timeSteps = [1, 2, 5, 10, 15, 30, 60, 120, 300];
const clock = (seconds: number) => new Date(seconds * 1000).toTimeString().slice(0, 8);

/** Shows the newest values in the legend while the cursor is not over the chart (uPlot shows none then). */
function showLatest(plot: uPlot): void {
  const last = (plot.data[0]?.length ?? 0) - 1;
  if (last >= 0 && (plot.cursor.left ?? -1) < 0) plot.setLegend({ idx: last });
}

function options(series: SeriesSpec[], width: number, height: number, unit: string): uPlot.Options {
  const show = (value: number | null) => (value === null || value === undefined ? '–' : `${formatNumber(value)}${unit}`);
  return {
    width,
    height,
    series: [
      { label: 'Time', value: (_self: uPlot, value: number | null) => (value === null ? '–' : clock(value)) },
      ...series.map((spec) => ({
        label: spec.label,
        stroke: spec.color,
        width: 2,
        ...(spec.dashed ? { dash: [6, 4] } : {}),
        ...(spec.filled ? { fill: `${spec.color}1f` } : {}),
        points: { show: false },
        value: (_self: uPlot, value: number | null) => show(value),
      })),
    ],
    // Counts and rates start at zero; an idle server still gets a visible scale.
    scales: { y: { range: (_self, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    axes: [
      { ...axisStyle, space: 70, incrs: timeSteps, values: (_self, splits) => splits.map(clock) },
      { ...axisStyle, size: 48 },
    ],
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
  };
}

/**
 * A live uPlot line chart. The chart is built once per series set (a new set, such as a node that appeared,
 * rebuilds it), fed with `setData`, and follows its container's width.
 */
export function TimeChart({ name, title, series, data, unit = '', height = 200 }: TimeChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const latestData = useRef(data);
  latestData.current = data;
  const seriesKey = JSON.stringify(series);

  // Rebuilt only when the series set changes (seriesKey): new data alone goes through setData below.
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const plot = new uPlot(options(series, element.clientWidth, height, unit), latestData.current, element);
    chart.current = plot;
    showLatest(plot);
    const observer = new ResizeObserver(() => {
      if (element.clientWidth !== plot.width) plot.setSize({ width: element.clientWidth, height });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
      chart.current = null;
    };
  }, [seriesKey, height, unit]);

  useEffect(() => {
    const plot = chart.current;
    if (!plot) return;
    plot.setData(data);
    showLatest(plot);
  }, [data]);

  return (
    <section class="card chart-card" data-chart={name}>
      <h2 class="chart-title">{title}</h2>
      <div class="chart-box" ref={box} />
    </section>
  );
}
