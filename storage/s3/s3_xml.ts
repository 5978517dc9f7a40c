/**
 * The two S3 XML replies the storage reads: a `ListObjectsV2` page and an
 * error body. Not a general XML parser: S3 writes these documents flat
 * (no CDATA, no nested elements of the same name, no attributes that
 * matter), so elements are found by name and their text unescaped.
 *
 * @module
 */

/** One object of a listing. */
export interface ListedObject {
  /** Its key (decoded when the listing is URL-encoded). */
  key: string;
  /** Its size in bytes. */
  size: number;
}

/** One page of a `ListObjectsV2` listing. */
export interface ListObjectsPage {
  /** The objects of this page. */
  objects: ListedObject[];
  /** Whether more pages follow. */
  isTruncated: boolean;
  /** The token that asks for the next page; set when `isTruncated`. */
  nextContinuationToken?: string;
}

/** The code and message of an S3 error reply. */
export interface S3ErrorBody {
  /** Such as `NoSuchKey`, `SignatureDoesNotMatch`. */
  code?: string;
  /** A human-readable message; radosgw leaves it empty. */
  message?: string;
}

const ENTITY = /&(?:#x([0-9a-fA-F]{1,6})|#(\d{1,7})|(amp|lt|gt|quot|apos));/g;
const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** `text` with the XML character and entity references replaced. */
function unescapeXml(text: string): string {
  return text.replace(ENTITY, (_, hex: string, dec: string, name: string) => {
    if (name !== undefined) return NAMED[name];
    const code = hex !== undefined ? parseInt(hex, 16) : Number(dec);
    return code <= 0x10ffff ? String.fromCodePoint(code) : "\ufffd";
  });
}

/** The unescaped text of every `<name>…</name>` in `xml` (an empty element `<name/>` gives ""). */
function elements(xml: string, name: string): string[] {
  const pattern = new RegExp(`<${name}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${name}\\s*>)`, "g");
  return Array.from(xml.matchAll(pattern), (match) => unescapeXml(match[1] ?? ""));
}

/** The text of the first `<name>` in `xml`, if any. */
function element(xml: string, name: string): string | undefined {
  return elements(xml, name)[0];
}

/** `xml` without the `<name>` elements (so their children are not taken for the parent's). */
function without(xml: string, name: string): string {
  return xml.replace(new RegExp(`<${name}(?:\\s[^>]*)?>[\\s\\S]*?</${name}\\s*>`, "g"), "");
}

/**
 * Parses a `ListObjectsV2` reply (`<ListBucketResult>`). Keys are
 * URL-decoded when the reply says `<EncodingType>url</EncodingType>`.
 *
 * @throws {SyntaxError} when it is not such a reply, or is truncated
 * without a continuation token.
 *
 * @example
 * ```ts
 * parseListObjectsV2(
 *   "<ListBucketResult><IsTruncated>false</IsTruncated>" +
 *     "<Contents><Key>a/b</Key><Size>3</Size></Contents></ListBucketResult>",
 * ); // { objects: [{ key: "a/b", size: 3 }], isTruncated: false }
 * ```
 */
export function parseListObjectsV2(xml: string): ListObjectsPage {
  const raw = /<ListBucketResult(?:\s[^>]*)?>([\s\S]*)<\/ListBucketResult\s*>/.exec(xml)?.[1];
  if (raw === undefined) {
    throw new SyntaxError(
      `Cannot parse ListObjectsV2 reply: no <ListBucketResult> in "${xml.slice(0, 100)}"`,
    );
  }
  const top = without(without(raw, "Contents"), "CommonPrefixes");
  const urlEncoded = element(top, "EncodingType")?.toLowerCase() === "url";
  const objects: ListedObject[] = [];
  for (const match of raw.matchAll(/<Contents(?:\s[^>]*)?>([\s\S]*?)<\/Contents\s*>/g)) {
    const contents = without(match[1], "Owner");
    const key = element(contents, "Key");
    const sizeText = element(contents, "Size")?.trim();
    if (key === undefined || sizeText === undefined || !/^\d+$/.test(sizeText)) {
      throw new SyntaxError(
        `Cannot parse ListObjectsV2 reply: an entry lacks <Key> or <Size>: "${
          match[0].slice(0, 200)
        }"`,
      );
    }
    let decoded = key;
    if (urlEncoded) {
      try {
        decoded = decodeURIComponent(key.replaceAll("+", " "));
      } catch (cause) {
        throw new SyntaxError(`Cannot parse ListObjectsV2 reply: bad URL-encoded key "${key}"`, {
          cause,
        });
      }
    }
    objects.push({ key: decoded, size: Number(sizeText) });
  }
  const truncatedText = element(top, "IsTruncated")?.trim().toLowerCase();
  if (truncatedText !== "true" && truncatedText !== "false") {
    throw new SyntaxError("Cannot parse ListObjectsV2 reply: no <IsTruncated>true|false");
  }
  const isTruncated = truncatedText === "true";
  const nextContinuationToken = element(top, "NextContinuationToken") || undefined;
  if (isTruncated && nextContinuationToken === undefined) {
    throw new SyntaxError(
      "Cannot parse ListObjectsV2 reply: truncated but no <NextContinuationToken>",
    );
  }
  return isTruncated ? { objects, isTruncated, nextContinuationToken } : { objects, isTruncated };
}

/**
 * The code and message of an S3 error reply (`<Error><Code>…`); empty when
 * `xml` is not one (a HEAD reply has no body; a proxy may answer HTML).
 */
export function parseS3Error(xml: string): S3ErrorBody {
  const raw = /<Error(?:\s[^>]*)?>([\s\S]*?)<\/Error\s*>/.exec(xml)?.[1];
  if (raw === undefined) return {};
  const code = element(raw, "Code")?.trim() || undefined;
  const message = element(raw, "Message")?.trim() || undefined;
  return { code, message };
}
