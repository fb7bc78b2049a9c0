// Business, finance, administration, HR and law. Written for jobbert; one title per line: en | de | es | zh
export default `
accountant | Buchhalter | contable | 会计
chartered accountant | Wirtschaftsprüfer | auditor de cuentas | 注册会计师
bookkeeper | Finanzbuchhalter | tenedor de libros | 记账员
tax advisor | Steuerberater | asesor fiscal | 税务顾问
tax clerk | Steuerfachangestellter | auxiliar fiscal | 税务专员
auditor | Revisor | auditor | 审计师
internal auditor | interner Revisor | auditor interno | 内部审计师
financial analyst | Finanzanalyst | analista financiero | 财务分析师
financial controller | Controller | controller financiero | 财务主管
chief financial officer | Finanzvorstand | director financiero | 首席财务官
finance manager | Finanzleiter | responsable financiero | 财务经理
payroll specialist | Lohnbuchhalter | especialista en nóminas | 薪资专员
accounts payable clerk | Kreditorenbuchhalter | auxiliar de cuentas por pagar | 应付账款专员
accounts receivable clerk | Debitorenbuchhalter | auxiliar de cuentas por cobrar | 应收账款专员
credit analyst | Kreditanalyst | analista de crédito | 信贷分析师
risk manager | Risikomanager | gestor de riesgos | 风险经理
compliance officer | Compliance-Beauftragter | responsable de cumplimiento normativo | 合规官
investment banker | Investmentbanker | banquero de inversión | 投资银行家
investment analyst | Investmentanalyst | analista de inversiones | 投资分析师
portfolio manager | Portfoliomanager | gestor de carteras | 投资组合经理
fund manager | Fondsmanager | gestor de fondos | 基金经理
bank clerk | Bankkaufmann | empleado de banca | 银行职员
bank teller | Bankschalterangestellter | cajero de banco | 银行柜员
loan officer | Kreditsachbearbeiter | gestor de préstamos | 贷款专员
financial advisor | Finanzberater | asesor financiero | 理财顾问
insurance agent | Versicherungsvertreter | agente de seguros | 保险代理人
insurance underwriter | Versicherungsunderwriter | suscriptor de seguros | 保险核保员
claims adjuster | Schadenregulierer | tasador de siniestros | 理赔员
actuary | Aktuar | actuario | 精算师
stockbroker | Börsenmakler | corredor de bolsa | 股票经纪人
trader | Händler | operador financiero | 交易员
economist | Volkswirt | economista | 经济学家
management consultant | Unternehmensberater | consultor de gestión | 管理顾问
strategy consultant | Strategieberater | consultor de estrategia | 战略顾问
chief executive officer | Geschäftsführer | director general | 首席执行官
chief operating officer | Chief Operating Officer | director de operaciones | 首席运营官
general manager | Generaldirektor | gerente general | 总经理
operations manager | Betriebsleiter | gerente de operaciones | 运营经理
project manager | Projektmanager | jefe de proyecto | 项目经理
programme manager | Programmmanager | director de programas | 项目群经理
project coordinator | Projektkoordinator | coordinador de proyectos | 项目协调员
business development manager | Business-Development-Manager | gerente de desarrollo de negocio | 业务拓展经理
office manager | Büroleiter | jefe de oficina | 办公室经理
office clerk | Bürokaufmann | administrativo | 办公室文员
administrative assistant | Verwaltungsassistent | auxiliar administrativo | 行政助理
executive assistant | Assistent der Geschäftsführung | asistente de dirección | 行政秘书
secretary | Sekretär | secretario | 秘书
receptionist | Empfangsmitarbeiter | recepcionista | 前台接待员
data entry clerk | Datenerfasser | operador de entrada de datos | 数据录入员
file clerk | Registraturmitarbeiter | archivero administrativo | 档案管理员
human resources manager | Personalleiter | director de recursos humanos | 人力资源经理
human resources specialist | Personalreferent | técnico de recursos humanos | 人力资源专员
HR business partner | HR-Business-Partner | socio de negocio de recursos humanos | 人力资源业务伙伴
recruiter | Personalvermittler | reclutador | 招聘专员
talent acquisition manager | Leiter Talentakquise | responsable de captación de talento | 人才招聘经理
training manager | Leiter Weiterbildung | responsable de formación | 培训经理
compensation and benefits specialist | Vergütungsspezialist | especialista en compensación y beneficios | 薪酬福利专员
lawyer | Rechtsanwalt | abogado | 律师
corporate lawyer | Wirtschaftsanwalt | abogado mercantil | 公司律师
legal counsel | Syndikusrechtsanwalt | asesor jurídico | 法律顾问
paralegal | Rechtsanwaltsfachangestellter | asistente jurídico | 律师助理
notary | Notar | notario | 公证员
judge | Richter | juez | 法官
public prosecutor | Staatsanwalt | fiscal | 检察官
patent attorney | Patentanwalt | agente de patentes | 专利代理人
data protection officer | Datenschutzbeauftragter | delegado de protección de datos | 数据保护官
procurement manager | Einkaufsleiter | responsable de compras | 采购经理
purchasing agent | Einkäufer | comprador | 采购员
supply chain manager | Supply-Chain-Manager | gerente de cadena de suministro | 供应链经理
quality manager | Qualitätsmanager | responsable de calidad | 质量经理
facility manager | Facility-Manager | responsable de mantenimiento de instalaciones | 设施经理
real estate agent | Immobilienmakler | agente inmobiliario | 房地产经纪人
property manager | Hausverwalter | administrador de fincas | 物业经理
translator | Übersetzer | traductor | 翻译
interpreter | Dolmetscher | intérprete | 口译员
civil servant | Beamter | funcionario | 公务员
policy advisor | Politikberater | asesor de políticas públicas | 政策顾问
payroll manager | Leiter Lohnbuchhaltung | responsable de nóminas | 薪资经理
accounting manager | Leiter Rechnungswesen | jefe de contabilidad | 会计经理
chief accountant | Hauptbuchhalter | contable jefe | 总会计师
billing specialist | Fakturist | especialista en facturación | 账单专员
financial planner | Finanzplaner | planificador financiero | 理财规划师
budget analyst | Budgetanalyst | analista de presupuestos | 预算分析师
tax manager | Steuermanager | responsable fiscal | 税务经理
quantitative analyst | quantitativer Analyst | analista cuantitativo | 量化分析师
anti-money laundering analyst | Geldwäsche-Analyst | analista de prevención de blanqueo de capitales | 反洗钱分析师
fraud investigator | Betrugsermittler | investigador de fraudes | 欺诈调查员
relationship manager | Firmenkundenbetreuer | gestor de relaciones con clientes | 客户关系经理
insurance clerk | Versicherungskaufmann | administrativo de seguros | 保险职员
pension advisor | Rentenberater | asesor de pensiones | 养老金顾问
real estate appraiser | Immobiliengutachter | tasador inmobiliario | 房地产评估师
property developer | Projektentwickler Immobilien | promotor inmobiliario | 房地产开发商
HR assistant | Personalassistent | asistente de recursos humanos | 人事助理
HR generalist | HR-Generalist | generalista de recursos humanos | 人力资源综合专员
personnel administrator | Personalsachbearbeiter | técnico de administración de personal | 人事行政专员
headhunter | Headhunter | cazatalentos | 猎头
IT recruiter | IT-Recruiter | reclutador IT | IT招聘专员
learning and development manager | Personalentwicklungsmanager | responsable de formación y desarrollo | 学习与发展经理
employer branding manager | Employer-Branding-Manager | responsable de employer branding | 雇主品牌经理
labour lawyer | Fachanwalt für Arbeitsrecht | abogado laboralista | 劳动法律师
criminal defence lawyer | Strafverteidiger | abogado penalista | 刑事辩护律师
family lawyer | Fachanwalt für Familienrecht | abogado de familia | 婚姻家事律师
tax lawyer | Steueranwalt | abogado fiscalista | 税务律师
compliance manager | Compliance-Manager | responsable de cumplimiento | 合规经理
mediator | Mediator | mediador | 调解员
bailiff | Gerichtsvollzieher | agente judicial | 法院执行员
insolvency administrator | Insolvenzverwalter | administrador concursal | 破产管理人
entrepreneur | Unternehmer | emprendedor | 企业家
startup founder | Gründer | fundador de startup | 创业公司创始人
operations analyst | Operations-Analyst | analista de operaciones | 运营分析师
project assistant | Projektassistent | asistente de proyectos | 项目助理
ESG analyst | ESG-Analyst | analista ESG | ESG分析师
investor relations manager | Investor-Relations-Manager | responsable de relaciones con inversores | 投资者关系经理
mergers and acquisitions analyst | M&A-Analyst | analista de fusiones y adquisiciones | 并购分析师
venture capital analyst | Venture-Capital-Analyst | analista de capital riesgo | 风险投资分析师
strategic buyer | strategischer Einkäufer | comprador estratégico | 战略采购员
`;
