# Production image of the gateway. Build: docker build -t llm-gateway .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
RUN npx nest build && npm prune --omit=dev

FROM node:20-bookworm-slim
# JSON on stdout even under `docker run -t`: the log driver reads lines, not a terminal.
ENV NODE_ENV=production LOG_DIR=/app/logs LOG_STDOUT=json
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The admin web UI's static files, found beside package.json at run time.
COPY public ./public
COPY package.json ./
RUN mkdir -p /app/logs && chown node:node /app/logs
USER node
EXPOSE 8080
CMD ["node", "dist/src/main.js"]
