export interface UpstreamHealth {
  /** The upstream's base URL as configured (never carries credentials). */
  url: string;
  status: 'up' | 'down';
  latency_ms: number;
  error?: string;
}
