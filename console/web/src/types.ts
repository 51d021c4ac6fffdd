// The API's answers the console reads (README, "The HTTP API").

export type Colour = 'green' | 'yellow' | 'red';

export interface EventRef {
  id: string;
  position: number;
}

export interface Interval {
  rule: string;
  from: string;
  until: string | null;
  events: EventRef[];
  policy: number;
}

export interface Explanation {
  person_id: string;
  colour: Colour;
  reasons: Interval[];
  at: string;
  intervals: Interval[];
}

export interface Whoami {
  token_id: string;
  role: string;
  zone: string;
}

export interface Document {
  type: string;
  number: string;
  country: string;
}

export interface PersonRecord {
  person_id: string;
  registered: string;
  position: number;
  erased: boolean;
  name?: string;
  phone?: string;
  nationality: string;
  document?: Document;
  registered_by?: string;
  verified: string[];
  dependents: { person_id: string; usable_from: string; ended: boolean }[];
}

export interface Place {
  checkpoint_id: string;
  name: string;
  kind: string;
  district: string;
}

export interface Scan {
  event: EventRef;
  at: string;
  place: Place;
  method: string;
  admitted: boolean;
  reason: string;
  colour?: Colour;
  temperature_celsius?: number;
  retracted: boolean;
}

export interface CodeIssued {
  person_id: string;
  requested_by?: string;
  day: string;
  colour: Colour;
  basis: number;
  pseudonym: string;
  issuer: string;
  kid: string;
  code: string;
}

export interface ChainNode {
  person: string;
  depth: number;
  at: string | null;
}

export interface ChainEdge {
  from: string;
  to: string;
  depth: number;
  at: string;
  source: string;
  place?: Place;
}

export interface Chain {
  person: string;
  upstream: boolean;
  depth: number;
  from: string | null;
  to: string | null;
  nodes: ChainNode[];
  edges: ChainEdge[];
}

export interface ColourRow {
  person_id: string;
  colour: Colour;
}

export interface Cluster {
  place: Place;
  from: string;
  to: string;
  cases: { person: string; visits: string[]; events: EventRef[] }[];
  exposed: string[];
  foreign: { issuer: string; pseudonym: string }[];
}

export interface ReplayReport {
  position: number;
  decisions: number;
  admissions: number;
  mismatches: { position: number; kind: string; person_id: string; problem: string; recorded: string; derived: string }[];
}

export interface VerifyReport {
  ok: boolean;
  checked: number;
  head: { position: number; hash: string; recorded_at: string };
  first_bad?: number;
  reason?: string;
}

export interface Access {
  position: number;
  recorded_at: string;
  actor: string;
  role: string;
  query: string;
  person_id?: string;
  reason: string;
}

export interface CheckpointRefusals {
  checkpoint_id: string;
  name: string;
  denials: number;
  issuers: Record<string, number>;
  first: string;
  last: string;
}
