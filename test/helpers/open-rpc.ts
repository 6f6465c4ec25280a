// The OpenRPC project's document tools (@open-rpc/schema-utils-js), typed here:
// the package's own declarations import TypeScript sources of
// @open-rpc/spec-types that do not compile under this project's settings.
import { createRequire } from 'node:module';

export interface OpenRpcTools {
  /** true, or the error saying why the document does not match OpenRPC's meta-schema. */
  validateOpenRPCDocument(document: object): true | Error;
  /** The document validated and its references resolved, as OpenRPC clients read it. */
  parseOpenRPCDocument(document: object): Promise<object>;
  /** Checks a call's params against a parsed document's method: no errors, or one per param that does not match. */
  MethodCallValidator: new (
    document: object,
  ) => { validate(method: string, params: unknown): unknown[] | Error };
}

export const openRpcTools = createRequire(__filename)('@open-rpc/schema-utils-js') as OpenRpcTools;
