/**
 * The sharded-serving protocol over NATS, shared by the shard replicas
 * (shard-service.ts) and the router (shard-router.ts). Replicas of shard I of
 * index NAME share subject jobbert.shard.NAME.I in one queue group, each also
 * answers on jobbert.shard-replica.NAME.I.<its id>, and every replica answers
 * the router's pings on jobbert.shard-ping.NAME.I with its id. Requests are a
 * JSON header line (ShardRequest) and the query vectors as float32; replies
 * are JSON (ShardReply).
 */

/** Where the replicas of a shard share its searches (one queue group). */
export const subjectOf = (name: string, shard: number) => `jobbert.shard.${name}.${shard}`;
/** Where every replica of a shard (not one of its queue group) answers the router's pings. */
export const pingSubjectOf = (name: string, shard: number) => `jobbert.shard-ping.${name}.${shard}`;
/** Where one replica of a shard (named in its ping replies) answers searches addressed to it alone. */
export const replicaSubjectOf = (name: string, shard: number, replica: string) => `jobbert.shard-replica.${name}.${shard}.${replica}`;

/** A search's header line: the query vectors follow as float32. */
export interface ShardRequest {
  k: number;
  lang?: string;
  queries: number;
  dim: number;
  /** The encoder the router's queries come from: a version published with another one of the same dimension must not answer. */
  fingerprint?: string;
}

/** A shard's hit: the entry, its score and its position in the whole index. */
export type ShardHit = [id: string, text: string, score: number, position: number];

/** A replica's answer to a search or a ping. */
export interface ShardReply {
  shard: number;
  /** The replica that answered a ping: searches for it alone go to replicaSubjectOf(…, replica). */
  replica?: string;
  /** The encoder of the version served (pings): a router of another encoder must not use it. */
  fingerprint?: string;
  /** The shard count of the layout this shard serves: a router of another layout must not merge it. */
  shards?: number;
  version: string;
  hits?: ShardHit[][];
  error?: { code: string; message: string };
}

/** A shard's reply would not fit in one NATS message: the router asks again for fewer queries at a time. */
export const REPLY_TOO_LARGE = 'ERR_REPLY_TOO_LARGE';
