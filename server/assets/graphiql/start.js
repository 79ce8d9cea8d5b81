// Starts GraphiQL on this service's endpoint. Requests need a bearer token
// (and X-Organization-Id when the token names no organization): put them in
// the Headers tab; `foldline demo` prints tokens for its users.
const fetcher = GraphiQL.createFetcher({ url: "/graphql" });
const root = ReactDOM.createRoot(document.getElementById("graphiql"));
root.render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultEditorToolsVisibility: true,
    defaultHeaders: JSON.stringify({ Authorization: "Bearer <token>" }, null, 2),
  }),
);
