import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PnsError } from '@pns/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

// Styles may be set inline (charts size their canvases that way); nothing may come from elsewhere.
const pagePolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

interface PageAsset {
  body: Buffer;
  contentType: string;
}

/**
 * The bundled pages (`@pns/web`, built into its dist/assets), read once. Only the files named here are
 * ever served: a fixed table of a few files needs no static-file server and exposes no directory.
 */
export class PageAssets {
  private readonly files = new Map<string, PageAsset>();

  constructor(names: readonly string[], directory = defaultAssetDirectory()) {
    for (const name of names) {
      const extension = name.slice(name.lastIndexOf('.'));
      let body: Buffer;
      try {
        body = readFileSync(join(directory, name));
      } catch (error) {
        throw new Error(`page asset ${name} is missing from ${directory}: run \`npm run build\``, { cause: error });
      }
      this.files.set(name, { body, contentType: contentTypes[extension] ?? 'application/octet-stream' });
    }
  }

  /** `GET <prefix>/:file` for every asset but the HTML pages, which have routes of their own. */
  serve(app: FastifyInstance, prefix: string): void {
    app.get<{ Params: { file: string } }>(`${prefix}/:file`, async (request, reply) => {
      const asset = request.params.file.endsWith('.html') ? undefined : this.files.get(request.params.file);
      if (!asset) throw new PnsError('NOT_FOUND');
      return reply.header('x-content-type-options', 'nosniff').type(asset.contentType).send(asset.body);
    });
  }

  /** A handler answering with one page's HTML, which may load scripts, styles and data from this origin only. */
  page(name: string): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
    const asset = this.files.get(name);
    if (!asset) throw new Error(`page ${name} was not loaded`);
    return async (_request, reply) =>
      reply
        .header('content-security-policy', pagePolicy)
        .header('x-content-type-options', 'nosniff')
        .type(asset.contentType)
        .send(asset.body);
  }
}

function defaultAssetDirectory(): string {
  // Resolved through the package, so it works from the one-file bundle and from the compiled modules alike.
  const manifest = createRequire(import.meta.url).resolve('@pns/web/package.json');
  return join(dirname(manifest), 'dist', 'assets');
}
