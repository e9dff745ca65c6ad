import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'

export interface ChartSeries {
  label: string
  values: (number | null)[]
  color: string
  /** Plotted against the right-hand axis, as a percentage of 0..1 values. */
  percent?: boolean
  fill?: boolean
  /** Drawn as points only (events such as lockouts). */
  points?: boolean
}

interface Props {
  /** Bucket starts, in milliseconds. */
  times: number[]
  series: ChartSeries[]
  /** Read by screen readers instead of the canvas. */
  summary: string
  height?: number
}

/** A time series chart (uPlot, canvas), resized with its container. */
export function TimeChart({ times, series, summary, height = 220 }: Props) {
  const host = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const shape = series.map((s) => `${s.label}:${s.percent ? 1 : 0}`).join('|')

  useEffect(() => {
    const element = host.current!
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] }, pct: { range: [0, 1] } },
      axes: [
        { stroke: '#9aa4b2', grid: { stroke: '#2a3240' }, ticks: { stroke: '#2a3240' } },
        { stroke: '#9aa4b2', grid: { stroke: '#2a3240' }, ticks: { stroke: '#2a3240' }, size: 44 },
        ...(series.some((s) => s.percent)
          ? [{ scale: 'pct', side: 1, stroke: '#9aa4b2', grid: { show: false }, size: 48, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${Math.round(t * 100)}%`) } as uPlot.Axis]
          : []),
      ],
      series: [
        {},
        ...series.map((s): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          width: s.points ? 0 : 2,
          scale: s.percent ? 'pct' : 'y',
          fill: s.fill ? `${s.color}33` : undefined,
          dash: s.percent ? [6, 4] : undefined,
          points: s.points ? { show: true, size: 9, fill: s.color, stroke: s.color } : { show: false },
          spanGaps: false,
          value: s.percent ? (_u, v) => (v === null ? '–' : `${Math.round(v * 100)}%`) : undefined,
        })),
      ],
    }
    plot.current = new uPlot(options, [times.map((t) => t / 1000), ...series.map((s) => s.values)], element)
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, element.clientWidth), height }))
    resize.observe(element)
    return () => {
      resize.disconnect()
      plot.current?.destroy()
      plot.current = null
    }
  }, [shape, height])

  useEffect(() => {
    plot.current?.setData([times.map((t) => t / 1000), ...series.map((s) => s.values)])
  }, [times, series])

  return <div class="chart" ref={host} role="img" aria-label={summary} />
}
