// When did each current finding open? The durable store answers this across restarts;
// this interface keeps the query service ignorant of how.
export interface FindingHistory {
  openedAt(node: string, check: string, subject: string): string | undefined;
}
