/// The default `config/` files, compiled in so `maracd serve` runs on its
/// embedded defaults when a file is absent (SPEC §2). The repository's
/// `config/` holds the same text; a test checks that the two never drift.
enum DefaultConfiguration {
    /// File name → the default text (without its final newline).
    static let files: [String: String] = [
        "agencies.json": #"""
        {
          "comment": "Agencies created on the broker's first start. Later changes go through /v1/agencies.",
          "agencies": [
            {"id": "community-safety", "name": "Community Safety Partnership (MARAC coordinator)", "kind": "core", "active": true},
            {"id": "police", "name": "Police", "kind": "core", "active": true},
            {"id": "probation", "name": "Probation Service", "kind": "core", "active": true},
            {"id": "housing", "name": "Housing Services", "kind": "core", "active": true},
            {"id": "adult-social-care", "name": "Adult Social Care", "kind": "core", "active": true},
            {"id": "childrens-social-care", "name": "Children's Social Care", "kind": "core", "active": true},
            {"id": "health", "name": "Health (NHS Trust safeguarding)", "kind": "core", "active": true},
            {"id": "mental-health", "name": "Mental Health Services", "kind": "core", "active": true},
            {"id": "victim-support", "name": "Victim Support (IDVA service)", "kind": "core", "active": true},
            {"id": "drug-alcohol-service", "name": "Drug and Alcohol Service", "kind": "core", "active": true},
            {"id": "education", "name": "Education Safeguarding", "kind": "non-core", "active": true}
          ]
        }
        """#,
        "calendar.json": #"""
        {
          "comment": "Bank holidays follow the region's rules; 'extra' adds and 'removed' cancels one-off dates (gov.uk announcements).",
          "region": "england-and-wales",
          "extra": [
            {"date": "2020-05-08", "name": "Early May bank holiday (VE Day)"},
            {"date": "2022-06-02", "name": "Spring bank holiday (moved for the Platinum Jubilee)"},
            {"date": "2022-06-03", "name": "Platinum Jubilee bank holiday"},
            {"date": "2022-09-19", "name": "Bank holiday for the State Funeral of Queen Elizabeth II"},
            {"date": "2023-05-08", "name": "Bank holiday for the coronation of King Charles III"}
          ],
          "removed": [
            {"date": "2020-05-04", "name": "Early May bank holiday (moved to 8 May)"},
            {"date": "2022-05-30", "name": "Spring bank holiday (moved to 2 June)"}
          ]
        }
        """#,
        "policy.json": #"""
{
  "comment": "Need-to-know. Every case field path must match a pattern below ('*' = one segment) or the case is refused. A category lists the agencies that may see it: [\"*\"] = every agency the request goes to, [] = the coordinator only.",
  "categories": {
    "referral": ["*"],
    "identity": ["*"],
    "victim-contact": ["police", "housing", "victim-support"],
    "safe-address": ["police"],
    "perpetrator-contact": ["police", "probation", "housing"],
    "justice": ["police", "probation"],
    "health": ["health", "mental-health"],
    "substance-use": ["health", "mental-health", "drug-alcohol-service"],
    "children": ["childrens-social-care", "education", "health"],
    "adult-safeguarding": ["adult-social-care", "health", "mental-health"],
    "special": [],
    "location": ["police", "housing"],
    "witness": []
  },
  "fields": {
    "referral.reason": "referral",
    "referral.date": "referral",
    "referral.agency": "referral",
    "risk.level": "referral",
    "risk.dashScore": "referral",
    "risk.repeat": "referral",
    "risk.concerns": "referral",
    "case.type": "referral",
    "incidents": "referral",
    "issue.since": "referral",
    "issue.description": "referral",

    "victim.name": "identity",
    "victim.alias": "identity",
    "victim.dateOfBirth": "identity",
    "victim.gender": "identity",
    "perpetrator.name": "identity",
    "perpetrator.alias": "identity",
    "perpetrator.dateOfBirth": "identity",
    "perpetrator.gender": "identity",
    "perpetrator.relationship": "identity",
    "perpetrator.*.name": "identity",
    "perpetrator.*.alias": "identity",
    "perpetrator.*.dateOfBirth": "identity",
    "perpetrator.*.relationship": "identity",
    "perpetrator.*.address": "perpetrator-contact",
    "perpetrator.*.pncId": "justice",

    "location.address": "location",
    "location.description": "location",

    "witness.*.name": "witness",
    "witness.*.address": "witness",
    "witness.*.phone": "witness",
    "witness.*.statement": "witness",

    "victim.phone": "victim-contact",
    "victim.email": "victim-contact",
    "victim.address": "victim-contact",
    "victim.postcode": "victim-contact",
    "victim.safeAddress": "safe-address",

    "perpetrator.address": "perpetrator-contact",
    "perpetrator.phone": "perpetrator-contact",
    "perpetrator.pncId": "justice",
    "perpetrator.bailConditions": "justice",
    "perpetrator.courtOrders": "justice",

    "victim.nhsNumber": "health",
    "victim.gp": "health",
    "victim.pregnant": "health",
    "victim.disability": "health",
    "victim.mentalHealth": "health",
    "perpetrator.nhsNumber": "health",
    "perpetrator.mentalHealth": "health",
    "victim.substanceUse": "substance-use",
    "perpetrator.substanceUse": "substance-use",

    "victim.careNeeds": "adult-safeguarding",

    "child.*.name": "children",
    "child.*.dateOfBirth": "children",
    "child.*.gender": "children",
    "child.*.school": "children",
    "child.*.relationship": "children",
    "child.*.nhsNumber": "children",

    "victim.sexualOrientation": "special",
    "victim.immigrationStatus": "special",
    "victim.religion": "special",
    "victim.ethnicity": "special",
    "perpetrator.ethnicity": "special",
    "perpetrator.religion": "special"
  }
}
"""#,
        "broker.json": #"""
        {
          "listen": "127.0.0.1:8443",
          "dataDirectory": "data",
          "certsDirectory": "certs",
          "timeZone": "Europe/London",
          "researchLeadWorkingDays": 5,
          "returnDeadlineHours": 24,
          "tls": { "minimumVersion": "1.3" },
          "limits": {
            "maxHeaderBytes": 16384,
            "maxHeaderCount": 100,
            "maxBodyBytes": 10485760,
            "headerTimeoutSeconds": 10,
            "idleTimeoutSeconds": 60,
            "bodyTimeoutSeconds": 30,
            "maxConnections": 20000,
            "maxConnectionsPerPrincipal": 64,
            "maxHandshakesPerAddress": 32,
            "longPollMaxSeconds": 60,
            "maxLongPollsPerPrincipal": 4,
            "maxReturnVersionsPerRequest": 20,
            "maxReturnBytesPerRequest": 1048576
          },
          "credentials": { "validityDays": 365, "maxValidityDays": 825 }
        }
        """#,
    ]
}
