import { Injectable, type OnModuleInit } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { hash, verify } from 'argon2';
import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../common/errors/app-error.js';
import { AppConfig } from '../config/app-config.js';
import { durationSeconds } from '../config/load-config.js';
import { LoginLimiter } from './login-limiter.js';
import type { Principal } from '../common/principal.js';

export type AdminPrincipal = Extract<Principal, { kind: 'admin' }>;

/** Claims every admin token carries and every check demands: a token made for something else is not an admin's. */
export const ADMIN_TOKEN_ISSUER = 'llm-gateway';
export const ADMIN_TOKEN_AUDIENCE = 'llm-gateway-admin';
/** The one algorithm signed and accepted: `none`, RS256 or ES256 (and their key-confusion tricks) are refused. */
const ALGORITHM = 'HS256';

export interface AdminToken {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds. */
  expires_in: number;
}

interface AdminClaims {
  sub?: unknown;
  exp?: unknown;
  iat?: unknown;
}

/**
 * Admin login and admin tokens. The password is held only as an argon2 hash (ADMIN_PASSWORD_HASH, or ADMIN_PASSWORD
 * hashed at start-up); tokens are HS256 JWTs with issuer, audience, issue and expiry times, all checked.
 */
@Injectable()
export class AdminAuthService implements OnModuleInit {
  private passwordHash: string | undefined;
  private readonly expiresInSeconds: number;

  constructor(
    private readonly config: AppConfig,
    private readonly jwt: JwtService,
    private readonly limiter: LoginLimiter,
  ) {
    this.expiresInSeconds = durationSeconds(config.admin.jwtExpiresIn);
  }

  async onModuleInit(): Promise<void> {
    const { password, passwordHash } = this.config.admin;
    if (passwordHash !== undefined) {
      // A hash argon2 cannot parse would turn every login into a 500; refuse to start instead. The config check only
      // looked at its prefix.
      await verify(passwordHash, '').catch(() => {
        throw new Error('ADMIN_PASSWORD_HASH is not a valid argon2 hash');
      });
    }
    this.passwordHash = passwordHash ?? (password === undefined ? undefined : await hash(password));
  }

  /**
   * A token for the right username and password; 401 otherwise (the message does not say which was wrong), 429 while
   * `address` has failed too often for this username.
   */
  async login(username: string, password: string, address: string): Promise<AdminToken> {
    const retryAfter = this.limiter.retryAfterSeconds(address, username);
    if (retryAfter !== undefined) {
      throw new AppError('rate_limited', 'Too many failed logins; try again later.', { retryAfterSeconds: retryAfter });
    }
    const stored = this.passwordHash;
    const jwtSecret = this.config.admin.jwtSecret;
    if (stored === undefined || jwtSecret === undefined) {
      throw new AppError('invalid_credentials', 'Admin login is not enabled on this gateway.');
    }
    // The hash is checked even for a wrong username, so the answer's timing does not tell which one was wrong.
    const passwordOk = await verify(stored, password);
    if (!(sameText(username, this.config.admin.username) && passwordOk)) {
      this.limiter.recordFailure(address, username);
      throw new AppError('invalid_credentials', 'Wrong username or password.');
    }
    this.limiter.reset(address, username);
    const accessToken = await this.jwt.signAsync(
      { sub: this.config.admin.username },
      {
        secret: jwtSecret,
        algorithm: ALGORITHM,
        expiresIn: this.expiresInSeconds,
        issuer: ADMIN_TOKEN_ISSUER,
        audience: ADMIN_TOKEN_AUDIENCE,
      },
    );
    return { access_token: accessToken, token_type: 'Bearer', expires_in: this.expiresInSeconds };
  }

  /** The admin a token was issued to; 401 for anything but an unexpired HS256 token this gateway signed for admins. */
  authenticate(token: string): AdminPrincipal {
    const secret = this.config.admin.jwtSecret;
    if (!this.config.admin.enabled || secret === undefined) {
      throw new AppError('invalid_token', 'Admin login is not enabled on this gateway.');
    }
    let claims: AdminClaims;
    try {
      claims = this.jwt.verify<AdminClaims>(token, {
        secret,
        algorithms: [ALGORITHM],
        issuer: ADMIN_TOKEN_ISSUER,
        audience: ADMIN_TOKEN_AUDIENCE,
      });
    } catch {
      // jsonwebtoken's reasons ("invalid signature", "jwt expired") are not worth more to a client than this.
      throw invalidToken();
    }
    // jsonwebtoken checks `exp` only when present; a token without an expiry would be valid forever.
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || typeof claims.sub !== 'string') {
      throw invalidToken();
    }
    // A token issued to a former ADMIN_USERNAME stops working when the name changes.
    if (claims.sub !== this.config.admin.username) throw invalidToken();
    return { kind: 'admin', username: claims.sub };
  }
}

function invalidToken(): AppError {
  return new AppError('invalid_token', 'Invalid or expired admin token.');
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
