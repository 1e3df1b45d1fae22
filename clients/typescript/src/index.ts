// A typed client of the facerec REST service, over openapi-fetch and the types generated from the
// service's OpenAPI document (src/schema.d.ts). Each method resolves with the documented response
// body, or rejects with a FacerecError that carries the service's status, code and message.
//
//   import { FacerecClient } from '@facerec/client';
//   const facerec = new FacerecClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: process.env.FACEREC_KEY });
//   const ann = await facerec.createPerson('Ann');
//   await facerec.addFace(ann.id, new Blob([jpegBytes], { type: 'image/jpeg' }));
//   const { faces } = await facerec.identify(photo);
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';
type Schemas = components['schemas'];
export type Person = Schemas['Person'];
export type PeoplePage = Schemas['PeoplePage'];
export type AddedFace = Schemas['AddedFace'];
export type Identification = Schemas['Identification'];
export type IdentifiedFace = Schemas['IdentifiedFace'];
export type Candidate = Schemas['Candidate'];
export type Verification = Schemas['Verification'];
export type Version = Schemas['Version'];
export type ErrorBody = Schemas['Error'];
export type Quality = Schemas['Quality'];

/** An error answered by the service (status >= 400), or no answer at all (status 0, code "network"). */
export class FacerecError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'FacerecError';
  }
}

export interface FacerecClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** an X-API-Key value the service accepts; none: only health and the document are reachable */
  apiKey?: string;
  /** a fetch implementation (default: the global one) */
  fetch?: typeof globalThis.fetch;
}

/** An image: bytes with their media type (a Blob or File; a Buffer/Uint8Array is sent as application/octet-stream). */
export type Image = Blob | Uint8Array;

function asBlob(image: Image): Blob {
  return image instanceof Blob ? image : new Blob([image as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
}

// Sends an image as the raw body with its own Content-Type.
function rawImage(image: Image) {
  const blob = asBlob(image);
  return {
    // openapi-typescript types a binary body as string; the bytes go out untouched
    body: blob as unknown as string,
    bodySerializer: (b: unknown) => b as BodyInit,
    headers: { 'Content-Type': blob.type || 'application/octet-stream' },
  };
}

type Outcome<T> = { data?: T; error?: unknown; response: Response };

// The data of a 2xx answer; a FacerecError otherwise.
function unwrap<T>(outcome: Outcome<T>): T {
  const { data, error, response } = outcome;
  if (response.ok && data !== undefined) return data;
  const e = (error ?? {}) as Partial<ErrorBody>;
  if (e.error) throw new FacerecError(e.error.status, e.error.code, e.error.message);
  throw new FacerecError(response.status, 'http_error', `HTTP ${response.status} without an error body`);
}

async function call<T>(request: () => Promise<Outcome<T>>): Promise<T> {
  let outcome: Outcome<T>;
  try {
    outcome = await request();
  } catch (e) {
    throw new FacerecError(0, 'network', `the service did not answer: ${(e as Error).message}`);
  }
  return unwrap(outcome);
}

export class FacerecClient {
  /** The openapi-fetch client underneath: every documented route, typed. */
  readonly raw: Client<paths>;

  constructor(options: FacerecClientOptions) {
    this.raw = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      headers: options.apiKey ? { 'X-API-Key': options.apiKey } : {},
      fetch: options.fetch,
    });
  }

  health() {
    return call(() => this.raw.GET('/v1/health'));
  }
  version(): Promise<Version> {
    return call(() => this.raw.GET('/v1/version'));
  }
  /** People sorted by name, a page at a time; `name` keeps those whose name contains it. */
  listPeople(query: { offset?: number; limit?: number; name?: string } = {}): Promise<PeoplePage> {
    return call(() => this.raw.GET('/v1/people', { params: { query } }));
  }
  createPerson(name: string, metadata?: unknown): Promise<Person> {
    return call(() => this.raw.POST('/v1/people', { body: { name, metadata } }));
  }
  getPerson(id: number): Promise<Person> {
    return call(() => this.raw.GET('/v1/people/{id}', { params: { path: { id } } }));
  }
  deletePerson(id: number): Promise<number> {
    return call(() => this.raw.DELETE('/v1/people/{id}', { params: { path: { id } } })).then((d) => d.deleted);
  }
  /** Enrols the largest face of `image` to person `id`; below the service's quality floor it is refused
   * (FacerecError 422 low_quality) unless `force`. */
  addFace(id: number, image: Image, options: { force?: boolean } = {}): Promise<AddedFace> {
    return call(() =>
      this.raw.POST('/v1/people/{id}/faces', { params: { path: { id }, query: options }, ...rawImage(image) }),
    );
  }
  /** Every face of `image` with its best `top` candidates; identity null when unknown. */
  identify(image: Image, options: { top?: number; liveness?: boolean } = {}): Promise<Identification> {
    return call(() => this.raw.POST('/v1/identify', { params: { query: options }, ...rawImage(image) }));
  }
  /** Whether the largest faces of `a` and `b` are the same person. */
  verify(a: Image, b: Image, options: { liveness?: boolean } = {}): Promise<Verification> {
    const form = new FormData();
    form.append('a', asBlob(a), 'a');
    form.append('b', asBlob(b), 'b');
    return call(() =>
      this.raw.POST('/v1/verify', {
        params: { query: options },
        body: form as unknown as Schemas['VerifyForm'],
        bodySerializer: (f: unknown) => f as BodyInit,
      }),
    );
  }
  /** Whether the largest face of `image` is enrolled person `person`. */
  verifyPerson(image: Image, person: number, options: { liveness?: boolean } = {}): Promise<Verification> {
    return call(() => this.raw.POST('/v1/verify', { params: { query: { person, ...options } }, ...rawImage(image) }));
  }
}
