import { Injectable } from '@nestjs/common';
import axios from 'axios';
import { AppConfig } from '../config/app-config.js';
import type { UpstreamHealth } from './vllm.types.js';

const HEALTH_TIMEOUT_MS = 2_000;

/** The only code that talks to vLLM. */
@Injectable()
export class VllmService {
  constructor(private readonly config: AppConfig) {}

  /** Probes each upstream's `/health` (never a completion: probes must cost no GPU work). */
  health(): Promise<UpstreamHealth[]> {
    return Promise.all(
      this.config.vllm.baseUrls.map(async (url): Promise<UpstreamHealth> => {
        const started = performance.now();
        try {
          await axios.get(`${url}/health`, { timeout: HEALTH_TIMEOUT_MS, validateStatus: (s) => s === 200 });
          return { url, status: 'up', latency_ms: Math.round(performance.now() - started) };
        } catch (err) {
          const error = axios.isAxiosError(err) ? (err.code ?? `HTTP ${err.response?.status}`) : String(err);
          return { url, status: 'down', latency_ms: Math.round(performance.now() - started), error };
        }
      }),
    );
  }
}
