import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { VllmModule } from '../vllm/vllm.module.js';
import { HealthController } from './health.controller.js';
import { HealthService } from './health.service.js';

@Module({
  imports: [AuthModule, VllmModule],
  controllers: [HealthController],
  providers: [HealthService],
})
export class HealthModule {}
