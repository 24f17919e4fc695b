// Embedding smoke check in TypeScript: two inputs must give two 4096-dimension vectors.
// Build: tsc (see package.json); run: PHAYA_BASE=... PHAYA_API_KEY=... node build/embed_check.js
declare const process: { env: Record<string, string | undefined>; exit(code: number): never };
interface EmbeddingItem { embedding: number[] }
interface EmbeddingAnswer {
  success: boolean;
  id: string;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
  credits_used: number;
  data: EmbeddingItem[];
}

const DIMENSIONS = 4096;

async function embed(inputs: string[]): Promise<EmbeddingAnswer> {
  const base: string = (process.env.PHAYA_BASE ?? "").replace(/\/$/, "");
  const res = await fetch(`${base}/embedding/create`, {
    method: "POST",
    headers: { Authorization: `Bearer ${process.env.PHAYA_API_KEY ?? ""}`, "Content-Type": "application/json" },
    body: JSON.stringify({ input: inputs }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as EmbeddingAnswer;
}

function cosine(a: number[], b: number[]): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / Math.sqrt(na * nb);
}

async function main(): Promise<void> {
  const inputs: string[] = ["a cat on a mat", "a cat sat on the mat"];
  const answer: EmbeddingAnswer = await embed(inputs);
  if (answer.success !== true) throw new Error("answer without success: true");
  if (answer.data.length !== inputs.length) throw new Error(`expected ${inputs.length} vectors, got ${answer.data.length}`);
  for (const item of answer.data) {
    if (item.embedding.length !== DIMENSIONS) throw new Error(`expected ${DIMENSIONS} dimensions, got ${item.embedding.length}`);
  }
  console.log(JSON.stringify({ vectors: answer.data.length, dims: answer.data[0].embedding.length,
    similarity: Number(cosine(answer.data[0].embedding, answer.data[1].embedding).toFixed(4)),
    credits: answer.credits_used, model: answer.model }));
}

main().catch((err: unknown) => { console.error(String(err)); process.exit(1); });
