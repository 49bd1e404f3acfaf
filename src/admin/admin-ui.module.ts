import { Module } from '@nestjs/common';
import { AdminUiController } from './admin-ui.controller.js';

/** The admin web UI's static files; apart from the admin API so the page has no dependency on its services. */
@Module({ controllers: [AdminUiController] })
export class AdminUiModule {}
