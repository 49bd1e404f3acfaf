import { Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ChangeFeed } from '../database/change-feed.js';
import { DatabaseModule } from '../database/database.module.js';
import { AccessPolicy } from './access-policy.js';
import { AdminAuthService } from './admin-auth.service.js';
import { ApiKey } from './api-key.entity.js';
import { ApiKeyService } from './api-key.service.js';
import { AuthGuard } from './auth.guard.js';
import { LoginLimiter } from './login-limiter.js';
import { RouteAccess } from './route-access.js';

/**
 * Client API keys, admin login and the one access policy, enforced for every Nest route by the global guard and
 * called by the chat fast lane for its routes, and for `Expect: 100-continue` by the gate in front of Express' body
 * parser (route-access.ts). The JWT secret is passed per call (AdminAuthService), so no token can be signed or
 * checked with a default one.
 */
@Module({
  imports: [DatabaseModule, DiscoveryModule, TypeOrmModule.forFeature([ApiKey]), JwtModule.register({})],
  providers: [
    ApiKeyService,
    AdminAuthService,
    LoginLimiter,
    AccessPolicy,
    RouteAccess,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [ApiKeyService, AdminAuthService, AccessPolicy, RouteAccess],
})
export class AuthModule {
  /**
   * A key made, revoked or changed by any process re-reads the keys here, so another process's revocation is refused
   * within the notification's delivery. The table is small: one re-read per change is simpler than per-row updates,
   * and the same call serves a resync. Subscribed at construction, before any lifecycle hook.
   */
  constructor(changes: ChangeFeed, keys: ApiKeyService) {
    changes.subscribe('api_keys', () => keys.reload());
  }
}
