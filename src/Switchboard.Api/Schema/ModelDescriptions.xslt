<?xml version="1.0" encoding="utf-8"?>
<!-- Cuts KubernetesClient.xml (about 25 MB, mostly API-method docs) down to the k8s.Models type and property
     summaries (about 1.3 MB), whitespace-normalised, in the same doc format so one parser reads either file. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="xml" encoding="utf-8" indent="no"/>
  <xsl:template match="/">
    <doc>
      <members>
        <xsl:for-each select="doc/members/member[(starts-with(@name, 'T:k8s.Models.') or starts-with(@name, 'P:k8s.Models.')) and summary]">
          <member name="{@name}"><summary><xsl:value-of select="normalize-space(summary)"/></summary></member>
        </xsl:for-each>
      </members>
    </doc>
  </xsl:template>
</xsl:stylesheet>
