"""citewise as a Model Context Protocol server: tools an assistant calls for verified, cited quotations, over stdio
(`citewise mcp`) and streamable HTTP (`/mcp` of `citewise serve`)."""
