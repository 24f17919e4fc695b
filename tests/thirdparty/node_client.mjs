// A Node client for Phaya chat and embeddings, as an outside developer writes it from the docs:
// every answer must say `success: true`, or it is treated as an error.
//   PHAYA_BASE=... PHAYA_API_KEY=... node node_client.mjs "your question"
const base = process.env.PHAYA_BASE.replace(/\/$/, "");
const headers = { Authorization: `Bearer ${process.env.PHAYA_API_KEY}`, "Content-Type": "application/json" };

async function phaya(path, body) {
  const res = await fetch(base + path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
  const data = await res.json();
  if (!res.ok || data.success !== true) {
    throw new Error(`${path}: HTTP ${res.status}, success=${data.success}: ${JSON.stringify(data).slice(0, 200)}`);
  }
  return data;
}

const question = process.argv[2] || "hello";
const profile = await phaya("/user/profile");
const chat = await phaya("/phaya-gpt/chat/completions", { messages: [{ role: "user", content: question }], max_tokens: 40 });
const emb = await phaya("/embedding/create", { input: question });
console.log(JSON.stringify({
  email: profile.email,
  balance: profile.credits_balance,
  reply: chat.message.content,
  chat_credits: chat.credits_used,
  dims: emb.data[0].embedding.length,
  embedding_credits: emb.credits_used,
}));
