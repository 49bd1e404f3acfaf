import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional } from 'class-validator';

export const STATS_GROUPS = ['day', 'model', 'key'] as const;
export type StatsGroup = (typeof STATS_GROUPS)[number];

export class StatsQueryDto {
  @ApiPropertyOptional({
    description: 'Start, inclusive (ISO 8601); default: 7 days before `to`',
    example: '2026-12-01',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'End, exclusive (ISO 8601); default: now', example: '2026-12-08' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({
    enum: STATS_GROUPS,
    default: 'day',
    description: 'day (UTC), model, or key (key id or owner)',
  })
  @IsOptional()
  @IsIn(STATS_GROUPS)
  group_by?: StatsGroup;
}

export class StatsRowDto {
  @ApiProperty({
    description: 'The group: a UTC day (YYYY-MM-DD), a model name, or a key id / owner',
    example: '2026-12-01',
  })
  key: string;

  @ApiProperty({ description: 'Completions, whatever their outcome' }) requests: number;
  @ApiProperty() input_tokens: number;
  @ApiProperty() output_tokens: number;
  @ApiProperty({ description: 'Completions that failed (vLLM or the gateway)' }) errors: number;
  @ApiProperty({ description: 'Completions the client left before the end' }) aborted: number;

  @ApiProperty({ nullable: true, type: Number, description: 'Median time to first token of streams, ms' })
  ttft_p50_ms: number | null;

  @ApiProperty({ nullable: true, type: Number, description: '95th percentile time to first token of streams, ms' })
  ttft_p95_ms: number | null;
}

export class StatsDto {
  @ApiProperty({ example: '2026-12-01T00:00:00.000Z' }) from: string;
  @ApiProperty({ example: '2026-12-08T00:00:00.000Z' }) to: string;
  @ApiProperty({ enum: STATS_GROUPS }) group_by: StatsGroup;
  @ApiProperty({ type: [StatsRowDto], description: 'One row per group, in key order' }) groups: StatsRowDto[];
  @ApiProperty({ type: StatsRowDto, description: 'All of the range (its key is "total")' }) totals: StatsRowDto;
}
