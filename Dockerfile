# One image for netconform-agent (and its probe, netconform-probe), netconform-collector and the netconform CLI.
# Build: docker build -t netconform:0.1.0 .
FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles its native module when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# The agent reads the node's dataplane with the standard tools (read-only use).
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables nftables ipset ipvsadm bpftool \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/proto ./proto
RUN ln -s /app/dist/agent/main.js /usr/local/bin/netconform-agent \
 && ln -s /app/dist/agent/probe/main.js /usr/local/bin/netconform-probe \
 && ln -s /app/dist/collector/main.js /usr/local/bin/netconform-collector \
 && ln -s /app/dist/cli/main.js /usr/local/bin/netconform \
 && mkdir -p /var/lib/netconform && chown node:node /var/lib/netconform
ENV NODE_ENV=production
# The collector runs as this user; the agent's DaemonSet sets uid 0 for its capability.
USER node
CMD ["netconform-collector"]
