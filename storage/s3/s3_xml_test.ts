import assert from "node:assert/strict";
import { parseListObjectsV2, parseS3Error } from "./s3_xml.ts";

Deno.test("parseListObjectsV2 reads a radosgw page with a continuation token", () => {
  const xml = '<?xml version="1.0" encoding="UTF-8"?>' +
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    "<EncodingType>url</EncodingType><Name>bkt</Name><Prefix>p%2F</Prefix><MaxKeys>2</MaxKeys>" +
    "<IsTruncated>true</IsTruncated>" +
    "<Contents><Key>p/ab/ab12</Key><LastModified>2026-11-25T16:39:01.046Z</LastModified>" +
    "<ETag>&quot;5eb63bbbe01eeed093cb22bb8f5acdc3&quot;</ETag><Size>11</Size>" +
    "<StorageClass>STANDARD</StorageClass><Owner><ID>ddb</ID><DisplayName>x</DisplayName></Owner>" +
    "<Type>Normal</Type></Contents>" +
    "<Contents><Key>p/odd%20name%26%3C%3E</Key><Size>0</Size></Contents>" +
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>" +
    "<KeyCount>2</KeyCount></ListBucketResult>";
  assert.deepEqual(parseListObjectsV2(xml), {
    objects: [{ key: "p/ab/ab12", size: 11 }, { key: "p/odd name&<>", size: 0 }],
    isTruncated: true,
    nextContinuationToken: "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
  });
});

Deno.test("parseListObjectsV2 unescapes XML in keys that are not URL-encoded", () => {
  const xml = "<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>" +
    "<Contents><Key>a&amp;b&lt;c&#x41;&#66;+%41</Key><Size>7</Size></Contents>" +
    "<CommonPrefixes><Prefix>x/</Prefix></CommonPrefixes></ListBucketResult>";
  assert.deepEqual(parseListObjectsV2(xml), {
    objects: [{ key: "a&b<cAB+%41", size: 7 }],
    isTruncated: false,
  });
  assert.deepEqual(
    parseListObjectsV2("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"),
    { objects: [], isTruncated: false },
  );
});

Deno.test("parseListObjectsV2 refuses replies it cannot trust", () => {
  const bad = [
    "<Error><Code>NoSuchBucket</Code></Error>",
    "<ListBucketResult><Contents><Key>k</Key></Contents>" +
    "<IsTruncated>false</IsTruncated></ListBucketResult>",
    "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>" +
    "<IsTruncated>false</IsTruncated></ListBucketResult>",
    "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
    "<ListBucketResult><Name>b</Name></ListBucketResult>",
    "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>" +
    "<Contents><Key>%E0%A4%A</Key><Size>1</Size></Contents></ListBucketResult>",
  ];
  for (const xml of bad) assert.throws(() => parseListObjectsV2(xml), SyntaxError, xml);
});

Deno.test("parseS3Error reads the code and message, or nothing", () => {
  assert.deepEqual(
    parseS3Error(
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code>' +
        "<Message>The request signature we calculated does not match</Message>" +
        "<RequestId>tx1</RequestId></Error>",
    ),
    {
      code: "SignatureDoesNotMatch",
      message: "The request signature we calculated does not match",
    },
  );
  assert.deepEqual(parseS3Error("<Error><Code>NoSuchKey</Code><Message></Message></Error>"), {
    code: "NoSuchKey",
    message: undefined,
  });
  assert.deepEqual(parseS3Error(""), {});
  assert.deepEqual(parseS3Error("<html>502 Bad Gateway</html>"), {});
});
