// The smallest typed client over the generated documents: what a frontend's
// graphql-request or urql call does, with the result and variables types
// taken from the operation.
import { print } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";

export interface Session {
  endpoint: string;
  token: string;
  organizationId?: string;
}

export async function request<Result, Variables>(
  session: Session,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
): Promise<Result> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    authorization: `Bearer ${session.token}`,
  };
  if (session.organizationId) {
    headers["x-organization-id"] = session.organizationId;
  }
  const response = await fetch(session.endpoint, {
    method: "POST",
    headers,
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as {
    data?: Result;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  if (body.errors?.length || !body.data) {
    const [first] = body.errors ?? [];
    throw new Error(`${first?.extensions?.code ?? response.status}: ${first?.message}`);
  }
  return body.data;
}
