/* The bounded XML reader of plugins/common/aws/xml.c: what the AWS query
 * protocol answers hold is read, and hostile or broken input (a nesting
 * bomb, huge text, unknown entities, a DTD, truncation) is an error with a
 * position, never a crash or a read past the bytes given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../tap/tap.h"
#include "aws/aws.h"

static char err[160];

static struct aws_xml *parse(const char *s)
{
	err[0] = '\0';
	return aws_xml_parse(s, strlen(s), err, sizeof err);
}

/* NULL expected, with an error that contains want */
static void refused(const char *doc, size_t n, const char *want, const char *what)
{
	struct aws_xml *x;

	err[0] = '\0';
	x = aws_xml_parse(doc, n, err, sizeof err);
	tap_ok(x == NULL, "%s: refused", what);
	tap_like(err, want, "%s: the error says %s", what, want);
	aws_xml_free(x);
}

static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * times + tl + 1), *p = s;

	if (!s)
		abort();
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < times; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

int main(void)
{
	struct aws_xml *x;
	char *s, *t;

	tap_plan(46);

	/* an RDS answer as AWS writes it: declaration, namespace, lists */
	x = parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		  "<DescribeDBInstancesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">"
		  "<DescribeDBInstancesResult><Marker>m&amp;2</Marker><DBInstances>"
		  "<DBInstance><DBInstanceIdentifier>a</DBInstanceIdentifier><MultiAZ>true</MultiAZ>"
		  "</DBInstance><DBInstance><DBInstanceIdentifier>b</DBInstanceIdentifier>"
		  "<Endpoint/></DBInstance></DBInstances></DescribeDBInstancesResult>"
		  "<!-- a comment --></DescribeDBInstancesResponse>\n");
	tap_ok(x != NULL, "an RDS answer parses (%s)", err);
	tap_is_str(aws_xml_text(x, "DescribeDBInstancesResult/Marker"), "m&2",
		   "a path finds the text, &amp; decoded");
	tap_is_str(aws_xml_text(x, "DescribeDBInstancesResult/DBInstances/DBInstance/MultiAZ"),
		   "true", "the first member of a list");
	{
		const struct aws_xml *l = aws_xml_get(x, "DescribeDBInstancesResult/DBInstances");
		const struct aws_xml *b = l && l->child ? l->child->next : NULL;

		tap_is_str(b ? aws_xml_text(b, "DBInstanceIdentifier") : NULL, "b",
			   "the second member through next");
		tap_ok(b && aws_xml_get(b, "Endpoint") && !aws_xml_text(b, "Endpoint"),
		       "an empty element <Endpoint/> exists and has no text");
	}
	tap_ok(aws_xml_get(x, "Nope/Marker") == NULL, "a missing path is NULL");
	aws_xml_free(x);

	/* entities and character references */
	x = parse("<a>&lt;&gt;&quot;&apos;&amp; &#65;&#x42;&#xe9;&#x20AC;&#x1F600;</a>");
	tap_is_str(x ? x->text : NULL, "<>\"'& AB\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		   "the five entities and references up to 4-byte UTF-8");
	aws_xml_free(x);
	refused("<a>&nbsp;</a>", 13, "unknown entity at byte", "an entity XML does not define");
	refused("<a>&#0;</a>", 11, "bad character reference", "&#0;");
	refused("<a>&#xD800;</a>", 15, "bad character reference", "a surrogate");
	refused("<a>&#x110000;</a>", 17, "bad character reference", "beyond U+10FFFF");
	refused("<a>&# 65;</a>", 13, "bad character reference", "a space in a reference");
	refused("<a>&#000000000000000065;</a>", 28, "bad character reference",
		"a reference too long to read");

	/* CDATA: its text as written */
	x = parse("<a>x<![CDATA[<b>&amp;]]]]>y</a>");
	tap_is_str(x ? x->text : NULL, "x<b>&amp;]]y", "CDATA text is kept as written (%s)", err);
	aws_xml_free(x);
	refused("<a><![CDATA[never closed</a>", 28, "unterminated CDATA section",
		"an unterminated CDATA section");

	/* no DTD: no entity expansion (billion laughs) */
	refused("<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY l \"lol\">]><a>&l;</a>", 63,
		"DTD not accepted", "a DOCTYPE");

	/* a nesting bomb: 64 levels are read, 100000 are refused at once */
	s = repeat("", "<n>", 64, "");
	t = repeat(s, "</n>", 64, "");
	x = parse(t);
	tap_ok(x != NULL, "64 nested elements parse");
	aws_xml_free(x);
	free(s);
	free(t);
	s = repeat("", "<n>", 100000, "");
	refused(s, strlen(s), "nesting too deep", "100000 nested elements");
	free(s);

	/* too many elements */
	s = repeat("<r>", "<e/>", 250000, "</r>");
	refused(s, strlen(s), "too many elements", "250000 elements");
	free(s);

	/* huge text: one element's text is capped (1 MiB) */
	s = repeat("<a>", "xxxxxxxxxxxxxxxx", 70000, "</a>");
	refused(s, strlen(s), "answer too large", "1.1 MB of text in one element");
	free(s);

	/* truncated input at every byte of a real answer: an error, never a tree */
	{
		static const char doc[] = "<R><L><M><Id>a&amp;b</Id><Z>us-east-1a</Z></M></L></R>";
		size_t n, bad = 0;

		for (n = 0; n < sizeof doc - 1; n++) {
			x = aws_xml_parse(doc, n, err, sizeof err);
			bad += x != NULL;
			aws_xml_free(x);
		}
		tap_is_int((long long)bad, 0, "each of the %zu truncations is refused",
			   sizeof doc - 1);
	}
	refused("<a><b>t</b>", 11, "the document ends inside an element", "a missing end tag");
	refused("<a><b>t</c></a>", 15, "mismatched closing tag at byte 7", "a mismatched end tag");
	refused("<a></a>tail", 11, "text after the document element", "text after the root");
	refused("<a></a><b></b>", 14, "text after the document element", "two roots");
	refused("", 0, "expected an element", "an empty answer");
	refused("<a><!-- no end</a>", 18, "unterminated comment", "an unterminated comment");

	/* the bytes given are all that is read: a document in a page followed
	 * by an unreadable one, its end tags cut off, fails cleanly */
	{
		long pg = sysconf(_SC_PAGESIZE);
		char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED) {
			tap_skip(2, "mmap failed");
		} else {
			static const char part[] = "<a><?pi never closed";
			char *doc = m + pg - (sizeof part - 1);

			mprotect(m + pg, (size_t)pg, PROT_NONE);
			memcpy(doc, part, sizeof part - 1);
			x = aws_xml_parse(doc, sizeof part - 1, err, sizeof err);
			tap_ok(x == NULL, "a processing instruction cut at the end of the input: "
			       "refused without reading past it");
			tap_like(err, "unterminated processing instruction", "... saying so");
			munmap(m, (size_t)pg * 2);
		}
	}
	return tap_done();
}
