import { useCallback, useId, useState, type RefCallback } from 'react';
import type { Attribution } from '../api/review.types';
import { formatContribution } from '../shared/format';

// Geometry in CSS pixels: the viewBox follows the measured width, so text keeps its font size.
const FALLBACK_WIDTH = 720;
const MIN_WIDTH = 360;
const MAX_LABEL_WIDTH = 300;
const VALUE_LABEL_SPACE = 56;
const AXIS_HEIGHT = 28;
const ROW_HEIGHT = 28;
const BAR_HEIGHT = 16;
// Set on the label elements and used to measure them, so that truncation matches the rendering.
const LABEL_FONT = "13px system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

interface ChartLayout {
  width: number;
  labelWidth: number;
  zeroX: number;
  halfPlot: number;
}

function layoutFor(measuredWidth: number): ChartLayout {
  const width = Math.max(MIN_WIDTH, measuredWidth);
  const labelWidth = Math.min(MAX_LABEL_WIDTH, Math.round(width * 0.38));
  const plotStart = labelWidth + 12 + VALUE_LABEL_SPACE;
  const plotEnd = width - VALUE_LABEL_SPACE;
  return { width, labelWidth, zeroX: (plotStart + plotEnd) / 2, halfPlot: (plotEnd - plotStart) / 2 };
}

interface AttributionChartProps {
  attributions: Attribution[];
}

/**
 * Horizontal bars of feature attributions in log-odds around a zero line: bars to the right push
 * toward decline, bars to the left toward approve. Screen readers get a summary label on the
 * image and every value in a visually hidden table.
 */
export function AttributionChart({ attributions }: AttributionChartProps) {
  const titleId = useId();
  const [figureRef, measuredWidth] = useElementWidth<HTMLElement>();
  if (attributions.length === 0) return <p className="empty-state">The decision has no attributions.</p>;

  const layout = layoutFor(measuredWidth);
  const { width, zeroX } = layout;
  const rows = [...attributions].sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  const maxMagnitude = Math.max(...rows.map((row) => Math.abs(row.contribution))) || 1;
  const scale = layout.halfPlot / maxMagnitude;
  const height = AXIS_HEIGHT + rows.length * ROW_HEIGHT + 8;

  return (
    <figure className="attribution-chart" ref={figureRef}>
      <figcaption id={titleId}>
        Feature attributions in log-odds. Bars to the right push toward decline, bars to the left toward approve.
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summarize(rows)} aria-describedby={titleId} data-testid="attribution-chart">
        <text x={zeroX - 6} y={16} textAnchor="end" className="chart-axis-label">
          ← toward approve
        </text>
        <text x={zeroX + 6} y={16} textAnchor="start" className="chart-axis-label">
          toward decline →
        </text>
        <line x1={zeroX} x2={zeroX} y1={AXIS_HEIGHT - 6} y2={height - 4} className="chart-zero-line" />

        {rows.map((row, index) => (
          <AttributionBar key={`${row.feature}-${index}`} row={row} top={AXIS_HEIGHT + index * ROW_HEIGHT} scale={scale} layout={layout} />
        ))}
      </svg>

      <table className="visually-hidden">
        <caption>Feature attributions, largest first</caption>
        <thead>
          <tr>
            <th scope="col">Feature</th>
            <th scope="col">Value</th>
            <th scope="col">Contribution (log-odds)</th>
            <th scope="col">Direction</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => (
            <tr key={`${row.feature}-${index}`}>
              <th scope="row">{row.feature}</th>
              <td>{row.value}</td>
              <td>{formatContribution(row.contribution)}</td>
              <td>{describeDirection(row.contribution)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

function AttributionBar({ row, top, scale, layout }: { row: Attribution; top: number; scale: number; layout: ChartLayout }) {
  const { labelWidth, zeroX } = layout;
  const barWidth = Math.max(1, Math.abs(row.contribution) * scale);
  const towardDecline = row.contribution > 0;
  const barX = towardDecline ? zeroX : zeroX - barWidth;
  const centerY = top + ROW_HEIGHT / 2;
  const label = `${row.feature} = ${row.value}`;
  const valueX = towardDecline ? zeroX + barWidth + 6 : zeroX - barWidth - 6;

  return (
    <g>
      <title>{`${label}: ${formatContribution(row.contribution)} (${describeDirection(row.contribution)})`}</title>
      <text x={labelWidth} y={centerY} dominantBaseline="middle" textAnchor="end" className="chart-label" style={{ font: LABEL_FONT }}>
        {fitText(label, labelWidth)}
      </text>
      <rect
        x={barX}
        y={centerY - BAR_HEIGHT / 2}
        width={barWidth}
        height={BAR_HEIGHT}
        rx={2}
        className={towardDecline ? 'chart-bar chart-bar-decline' : 'chart-bar chart-bar-approve'}
      />
      <text x={valueX} y={centerY} dominantBaseline="middle" textAnchor={towardDecline ? 'start' : 'end'} className="chart-value">
        {formatContribution(row.contribution)}
      </text>
    </g>
  );
}

function describeDirection(contribution: number): string {
  if (contribution > 0) return 'toward decline';
  if (contribution < 0) return 'toward approve';
  return 'neutral';
}

function summarize(rows: Attribution[]): string {
  const largest = rows
    .slice(0, 3)
    .map((row) => `${row.feature} = ${row.value}, ${formatContribution(row.contribution)} ${describeDirection(row.contribution)}`);
  return `Bar chart of ${rows.length} feature attributions in log-odds. Largest: ${largest.join('; ')}. The table after the chart lists every value.`;
}

let measuringContext: CanvasRenderingContext2D | null | undefined;

/** Shortens text with an ellipsis until it fits `maxWidth` pixels in LABEL_FONT. */
function fitText(text: string, maxWidth: number): string {
  measuringContext ??= document.createElement('canvas').getContext('2d');
  const context = measuringContext;
  if (!context) return text;
  context.font = LABEL_FONT;
  const fits = (candidate: string) => context.measureText(candidate).width <= maxWidth;
  if (fits(text)) return text;

  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(`${text.slice(0, middle)}…`)) low = middle;
    else high = middle - 1;
  }
  return `${text.slice(0, low)}…`;
}

/** Returns a callback ref for an element and the element's content width in pixels, following resizes. */
function useElementWidth<TElement extends HTMLElement>(): [RefCallback<TElement>, number] {
  const [width, setWidth] = useState(FALLBACK_WIDTH);

  const ref = useCallback((element: TElement | null) => {
    if (!element) return;
    const observer = new ResizeObserver((entries) => {
      const measured = entries[0]?.contentRect.width;
      if (measured) setWidth(Math.floor(measured));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  return [ref, width];
}
