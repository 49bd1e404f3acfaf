import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MetricsModule } from '../metrics/metrics.module.js';
import { UsageRecord } from './usage-record.entity.js';
import { UsageStatsController } from './usage-stats.controller.js';
import { UsageStatsService } from './usage-stats.service.js';
import { UsageService } from './usage.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([UsageRecord]), MetricsModule],
  controllers: [UsageStatsController],
  providers: [UsageService, UsageStatsService],
  exports: [UsageService],
})
export class UsageModule {}
