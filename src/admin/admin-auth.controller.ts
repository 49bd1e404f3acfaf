import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import { AdminAuthService } from '../auth/admin-auth.service.js';
import type { Principal } from '../common/principal.js';
import { CurrentPrincipal } from '../auth/request-principal.js';
import { Auth, Public } from '../common/decorators/auth.decorator.js';
import { AppError } from '../common/errors/app-error.js';
import { AdminMeDto, AdminTokenDto, LoginDto } from './admin.dto.js';

@ApiTags('Admin')
@Controller('admin/auth')
export class AdminAuthController {
  constructor(private readonly auth: AdminAuthService) {}

  @Post('login')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Exchange the admin username and password for a bearer token' })
  @ApiOkResponse({ type: AdminTokenDto })
  @ApiTooManyRequestsResponse({ description: 'Too many failed logins from this address; see Retry-After' })
  login(@Body() dto: LoginDto, @Req() req: Request): Promise<AdminTokenDto> {
    // The socket's address, not X-Forwarded-For: a client could write any header and dodge the limit.
    return this.auth.login(dto.username, dto.password, req.socket.remoteAddress ?? 'unknown');
  }

  @Get('me')
  @Auth('admin')
  @ApiOperation({ summary: 'Who the admin token belongs to' })
  @ApiOkResponse({ type: AdminMeDto })
  me(@CurrentPrincipal() principal: Principal): AdminMeDto {
    if (principal.kind !== 'admin') throw new AppError('invalid_token', 'Not an admin token.');
    return { username: principal.username };
  }
}
