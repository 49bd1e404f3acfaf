import { Module } from '@nestjs/common';
import { PlaygroundController } from './playground.controller.js';

/** The chat playground's static files; it has no service of its own, the page calls the public /v1 API. */
@Module({ controllers: [PlaygroundController] })
export class PlaygroundModule {}
