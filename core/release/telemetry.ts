/**
 * Release metrics through Powertools Metrics (CloudWatch EMF): `Publishes` and `BinarySize` /
 * `CompressedSize` per publish, `PointerMoves` per promotion or rollback, dimensioned by artifact.
 */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { artifactName } from '../artifacts';
import type { ReleaseTelemetry } from './deps';

export class PowertoolsReleaseTelemetry implements ReleaseTelemetry {
  constructor(private readonly metrics: Metrics) {}

  published(event: Parameters<ReleaseTelemetry['published']>[0]): void {
    const dimensions = { artifact: artifactName(event.ref) };
    if (event.created) this.emit('Publishes', MetricUnit.Count, 1, dimensions);
    this.emit('BinarySize', MetricUnit.Bytes, event.binarySize, dimensions);
    this.emit('CompressedSize', MetricUnit.Bytes, event.compressedSize, dimensions);
  }

  pointerMoved(event: Parameters<ReleaseTelemetry['pointerMoved']>[0]): void {
    this.emit('PointerMoves', MetricUnit.Count, 1, {
      artifact: artifactName(event.ref),
      action: event.action,
    });
  }

  /** One EMF document per metric, flushed at once, so each carries exactly its own dimensions. */
  private emit(
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
    dimensions: Record<string, string>,
  ): void {
    const metric = this.metrics.singleMetric();
    for (const [key, dimension] of Object.entries(dimensions)) metric.addDimension(key, dimension);
    metric.addMetric(name, unit, value);
  }
}
