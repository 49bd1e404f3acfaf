import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { AppError } from '../common/errors/app-error.js';
import { UsageRecord } from './usage-record.entity.js';
import type { StatsDto, StatsGroup, StatsQueryDto, StatsRowDto } from './usage.dto.js';

const DEFAULT_RANGE_MS = 7 * 86_400_000;

/** The grouping expressions; picked from this fixed map, never built from input. */
const GROUP_EXPR: Readonly<Record<StatsGroup, string>> = {
  day: `to_char("created_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  model: `coalesce("model", 'unspecified')`,
  key: `coalesce("api_key_id"::text, "owner", 'anonymous')`,
};

interface RawRow {
  key: string | null;
  total: boolean;
  requests: string | number;
  input_tokens: string | number;
  output_tokens: string | number;
  errors: string | number;
  aborted: string | number;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
}

/** `/admin/stats`: one grouped query over the usage rows of a time range, with its totals (grouping sets). */
@Injectable()
export class UsageStatsService {
  constructor(@InjectRepository(UsageRecord) private readonly rows: Repository<UsageRecord>) {}

  async stats(query: StatsQueryDto): Promise<StatsDto> {
    const to = query.to === undefined ? new Date() : new Date(query.to);
    const from = query.from === undefined ? new Date(to.getTime() - DEFAULT_RANGE_MS) : new Date(query.from);
    if (!(from < to)) throw new AppError('bad_request', "'from' must be before 'to'", { param: 'from' });
    const groupBy = query.group_by ?? 'day';
    const raw: RawRow[] = await this.rows.query(
      `SELECT "k" AS "key", GROUPING("k") = 1 AS "total",
              count(*) AS "requests",
              coalesce(sum("input_tokens"), 0) AS "input_tokens",
              coalesce(sum("output_tokens"), 0) AS "output_tokens",
              count(*) FILTER (WHERE "status" = 'error') AS "errors",
              count(*) FILTER (WHERE "status" = 'aborted') AS "aborted",
              percentile_cont(0.5) WITHIN GROUP (ORDER BY "ttft_ms") AS "ttft_p50_ms",
              percentile_cont(0.95) WITHIN GROUP (ORDER BY "ttft_ms") AS "ttft_p95_ms"
         FROM (SELECT ${GROUP_EXPR[groupBy]} AS "k", * FROM "usage_records"
                WHERE "created_at" >= $1 AND "created_at" < $2) AS "u"
        GROUP BY GROUPING SETS (("k"), ())
        ORDER BY "total", "k"`,
      [from, to],
    );
    const totalsRow = raw.find((r) => r.total);
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      group_by: groupBy,
      groups: raw.filter((r) => !r.total).map((r) => toRow(r.key ?? '', r)),
      totals: totalsRow === undefined ? emptyRow() : toRow('total', totalsRow),
    };
  }
}

function toRow(key: string, r: RawRow): StatsRowDto {
  return {
    key,
    requests: Number(r.requests),
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
    errors: Number(r.errors),
    aborted: Number(r.aborted),
    ttft_p50_ms: roundMs(r.ttft_p50_ms),
    ttft_p95_ms: roundMs(r.ttft_p95_ms),
  };
}

function roundMs(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 100) / 100;
}

function emptyRow(): StatsRowDto {
  return {
    key: 'total',
    requests: 0,
    input_tokens: 0,
    output_tokens: 0,
    errors: 0,
    aborted: 0,
    ttft_p50_ms: null,
    ttft_p95_ms: null,
  };
}
