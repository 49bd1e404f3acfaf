import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class RootLinksDto {
  @ApiProperty({ example: '/docs' }) docs: string;
  @ApiProperty({ example: '/health' }) health: string;
  @ApiProperty({ example: '/v1/models' }) models: string;
  @ApiProperty({ example: '/v1/chat/completions' }) chat_completions: string;
  @ApiProperty({ example: '/v1/conversations' }) conversations: string;
  @ApiProperty({ example: '/v1/llm-configs' }) llm_configs: string;
}

export class RootInfoDto {
  @ApiProperty({ example: 'llm-gateway' }) name: string;
  @ApiProperty({ example: '0.1.0' }) version: string;
  @ApiProperty({ type: RootLinksDto }) links: RootLinksDto;
}

export type ProbeStatus = 'up' | 'down';

export class DatabaseCheckDto {
  @ApiProperty({ enum: ['up', 'down'] }) status: ProbeStatus;
  @ApiProperty({ description: 'Round trip of `SELECT 1`, or time until it failed' }) latency_ms: number;
  @ApiPropertyOptional({ example: 'ECONNREFUSED' }) error?: string;
}

export class UpstreamCheckDto {
  @ApiProperty({ example: 'http://localhost:8000' }) url: string;
  @ApiProperty({ enum: ['up', 'down'] }) status: ProbeStatus;
  @ApiProperty({ description: 'Round trip of the upstream’s /health' }) latency_ms: number;
  @ApiPropertyOptional({ example: 'ECONNREFUSED' }) error?: string;
}

export class HealthChecksDto {
  @ApiProperty({ type: DatabaseCheckDto }) database: DatabaseCheckDto;
  @ApiProperty({ type: [UpstreamCheckDto] }) upstreams: UpstreamCheckDto[];
}

export type HealthStatus = 'ok' | 'degraded' | 'error';

export class HealthReportDto {
  @ApiProperty({
    enum: ['ok', 'degraded', 'error'],
    description: 'degraded: some upstreams are down; error (HTTP 503): the database or every upstream is down',
  })
  status: HealthStatus;

  @ApiProperty({ type: HealthChecksDto }) checks: HealthChecksDto;
}
