"""Reference channel adapter: WeCom (企业微信) group-bot callbacks in, channel.message.v1 out to hall.channels."""
