// Information technology and software. Written for jobbert; one title per line: en | de | es | zh
export default `
software developer | Softwareentwickler | desarrollador de software | 软件开发人员
software engineer | Softwareingenieur | ingeniero de software | 软件工程师
senior software engineer | Senior-Softwareingenieur | ingeniero de software sénior | 高级软件工程师
junior software developer | Junior-Softwareentwickler | desarrollador de software júnior | 初级软件开发人员
frontend developer | Frontend-Entwickler | desarrollador frontend | 前端开发工程师
backend developer | Backend-Entwickler | desarrollador backend | 后端开发工程师
full stack developer | Full-Stack-Entwickler | desarrollador full stack | 全栈开发工程师
web developer | Webentwickler | desarrollador web | 网页开发人员
mobile app developer | Entwickler für mobile Apps | desarrollador de aplicaciones móviles | 移动应用开发人员
iOS developer | iOS-Entwickler | desarrollador iOS | iOS开发工程师
Android developer | Android-Entwickler | desarrollador Android | 安卓开发工程师
Java developer | Java-Entwickler | desarrollador Java | Java开发工程师
Python developer | Python-Entwickler | desarrollador Python | Python开发工程师
JavaScript developer | JavaScript-Entwickler | desarrollador JavaScript | JavaScript开发工程师
.NET developer | .NET-Entwickler | desarrollador .NET | .NET开发工程师
PHP developer | PHP-Entwickler | desarrollador PHP | PHP开发工程师
C++ developer | C++-Entwickler | desarrollador C++ | C++开发工程师
embedded software engineer | Embedded-Softwareentwickler | ingeniero de software embebido | 嵌入式软件工程师
game developer | Spieleentwickler | desarrollador de videojuegos | 游戏开发工程师
software architect | Softwarearchitekt | arquitecto de software | 软件架构师
solutions architect | Lösungsarchitekt | arquitecto de soluciones | 解决方案架构师
enterprise architect | Unternehmensarchitekt | arquitecto empresarial | 企业架构师
cloud architect | Cloud-Architekt | arquitecto cloud | 云架构师
cloud engineer | Cloud-Ingenieur | ingeniero cloud | 云计算工程师
DevOps engineer | DevOps-Ingenieur | ingeniero DevOps | DevOps工程师
site reliability engineer | Site-Reliability-Engineer | ingeniero de fiabilidad de sitios | 网站可靠性工程师
systems administrator | Systemadministrator | administrador de sistemas | 系统管理员
network administrator | Netzwerkadministrator | administrador de redes | 网络管理员
network engineer | Netzwerkingenieur | ingeniero de redes | 网络工程师
database administrator | Datenbankadministrator | administrador de bases de datos | 数据库管理员
database developer | Datenbankentwickler | desarrollador de bases de datos | 数据库开发人员
data engineer | Dateningenieur | ingeniero de datos | 数据工程师
data scientist | Datenwissenschaftler | científico de datos | 数据科学家
data analyst | Datenanalyst | analista de datos | 数据分析师
business intelligence analyst | Business-Intelligence-Analyst | analista de inteligencia de negocio | 商业智能分析师
machine learning engineer | Ingenieur für maschinelles Lernen | ingeniero de aprendizaje automático | 机器学习工程师
AI researcher | KI-Forscher | investigador de inteligencia artificial | 人工智能研究员
computer vision engineer | Ingenieur für Computer Vision | ingeniero de visión artificial | 计算机视觉工程师
natural language processing engineer | Ingenieur für natürliche Sprachverarbeitung | ingeniero de procesamiento del lenguaje natural | 自然语言处理工程师
statistician | Statistiker | estadístico | 统计师
IT support technician | IT-Supporttechniker | técnico de soporte informático | IT支持技术员
help desk analyst | Helpdesk-Mitarbeiter | analista de mesa de ayuda | 服务台分析员
IT manager | IT-Leiter | responsable de informática | IT经理
chief technology officer | Technischer Direktor (CTO) | director de tecnología | 首席技术官
chief information officer | IT-Direktor (CIO) | director de sistemas de información | 首席信息官
IT project manager | IT-Projektleiter | jefe de proyectos informáticos | IT项目经理
scrum master | Scrum Master | scrum master | 敏捷教练
product owner | Product Owner | propietario del producto | 产品负责人
product manager | Produktmanager | gerente de producto | 产品经理
technical product manager | technischer Produktmanager | gerente de producto técnico | 技术产品经理
UX designer | UX-Designer | diseñador UX | 用户体验设计师
UI designer | UI-Designer | diseñador de interfaces | 用户界面设计师
UX researcher | UX-Forscher | investigador de experiencia de usuario | 用户体验研究员
software tester | Softwaretester | probador de software | 软件测试员
QA engineer | Qualitätssicherungsingenieur | ingeniero de control de calidad | 质量保证工程师
test automation engineer | Testautomatisierungsingenieur | ingeniero de automatización de pruebas | 自动化测试工程师
information security analyst | Analyst für Informationssicherheit | analista de seguridad de la información | 信息安全分析师
cybersecurity engineer | Ingenieur für Cybersicherheit | ingeniero de ciberseguridad | 网络安全工程师
penetration tester | Penetrationstester | auditor de pruebas de penetración | 渗透测试员
security architect | Sicherheitsarchitekt | arquitecto de seguridad | 安全架构师
IT consultant | IT-Berater | consultor informático | IT顾问
SAP consultant | SAP-Berater | consultor SAP | SAP顾问
ERP consultant | ERP-Berater | consultor ERP | ERP顾问
business analyst | Business-Analyst | analista de negocio | 业务分析师
systems analyst | Systemanalytiker | analista de sistemas | 系统分析师
technical writer | technischer Redakteur | redactor técnico | 技术文档撰写员
computer programmer | Programmierer | programador informático | 程序员
mainframe programmer | Großrechner-Programmierer | programador de mainframe | 大型机程序员
blockchain developer | Blockchain-Entwickler | desarrollador blockchain | 区块链开发工程师
firmware engineer | Firmware-Ingenieur | ingeniero de firmware | 固件工程师
hardware engineer | Hardwareingenieur | ingeniero de hardware | 硬件工程师
computer technician | Computertechniker | técnico informático | 计算机技术员
IT operations manager | Leiter IT-Betrieb | responsable de operaciones de TI | IT运维经理
release manager | Release-Manager | gestor de versiones | 发布经理
data architect | Datenarchitekt | arquitecto de datos | 数据架构师
big data engineer | Big-Data-Ingenieur | ingeniero de big data | 大数据工程师
web designer | Webdesigner | diseñador web | 网页设计师
search engine optimisation specialist | SEO-Spezialist | especialista en posicionamiento SEO | 搜索引擎优化专员
telecommunications technician | Telekommunikationstechniker | técnico de telecomunicaciones | 电信技术员
telecommunications engineer | Telekommunikationsingenieur | ingeniero de telecomunicaciones | 电信工程师
GIS specialist | GIS-Spezialist | especialista en SIG | 地理信息系统专员
Go developer | Go-Entwickler | desarrollador Go | Go开发工程师
Ruby developer | Ruby-Entwickler | desarrollador Ruby | Ruby开发工程师
TypeScript developer | TypeScript-Entwickler | desarrollador TypeScript | TypeScript开发工程师
Node.js developer | Node.js-Entwickler | desarrollador Node.js | Node.js开发工程师
React developer | React-Entwickler | desarrollador React | React开发工程师
Rust developer | Rust-Entwickler | desarrollador Rust | Rust开发工程师
C# developer | C#-Entwickler | desarrollador C# | C#开发工程师
Kotlin developer | Kotlin-Entwickler | desarrollador Kotlin | Kotlin开发工程师
Salesforce developer | Salesforce-Entwickler | desarrollador Salesforce | Salesforce开发工程师
SAP developer | SAP-Entwickler | desarrollador SAP | SAP开发工程师
WordPress developer | WordPress-Entwickler | desarrollador WordPress | WordPress开发工程师
Unity developer | Unity-Entwickler | desarrollador Unity | Unity开发工程师
virtual reality developer | VR-Entwickler | desarrollador de realidad virtual | 虚拟现实开发工程师
RPA developer | RPA-Entwickler | desarrollador de RPA | 机器人流程自动化开发工程师
platform engineer | Plattform-Ingenieur | ingeniero de plataforma | 平台工程师
infrastructure engineer | Infrastruktur-Ingenieur | ingeniero de infraestructura | 基础设施工程师
MLOps engineer | MLOps-Ingenieur | ingeniero de MLOps | 机器学习运维工程师
analytics engineer | Analytics Engineer | ingeniero de analítica | 数据分析工程师
prompt engineer | Prompt Engineer | ingeniero de prompts | 提示词工程师
data steward | Data Steward | responsable de gobierno de datos | 数据管理专员
data labeler | Datenannotator | etiquetador de datos | 数据标注员
data warehouse developer | Data-Warehouse-Entwickler | desarrollador de data warehouse | 数据仓库开发工程师
BI developer | BI-Entwickler | desarrollador de inteligencia de negocio | 商业智能开发工程师
integration engineer | Integrationsingenieur | ingeniero de integración | 系统集成工程师
network security engineer | Netzwerksicherheitsingenieur | ingeniero de seguridad de redes | 网络防护工程师
security operations centre analyst | SOC-Analyst | analista del centro de operaciones de seguridad | 安全运营中心分析师
chief information security officer | Informationssicherheitsbeauftragter | director de seguridad de la información | 首席信息安全官
IT auditor | IT-Revisor | auditor de sistemas de información | IT审计师
IT administrator | IT-Administrator | administrador de sistemas informáticos | IT管理员
Linux administrator | Linux-Administrator | administrador de sistemas Linux | Linux系统管理员
desktop support technician | Desktop-Support-Techniker | técnico de soporte de escritorio | 桌面支持技术员
service desk manager | Service-Desk-Leiter | responsable del centro de servicio al usuario | 服务台经理
technical support engineer | Technischer Support-Ingenieur | ingeniero de soporte técnico | 技术支持工程师
IT service manager | IT-Service-Manager | gestor de servicios de TI | IT服务经理
head of IT | Leiter der IT-Abteilung | jefe de informática | IT主管
data centre technician | Rechenzentrumstechniker | técnico de centro de datos | 数据中心技术员
network technician | Netzwerktechniker | técnico de redes | 网络技术员
IT specialist | Fachinformatiker | especialista en informática | 信息技术专员
UX writer | UX-Texter | redactor UX | 用户体验文案
interaction designer | Interaktionsdesigner | diseñador de interacción | 交互设计师
game tester | Spieletester | probador de videojuegos | 游戏测试员
level designer | Level-Designer | diseñador de niveles | 关卡设计师
digital transformation manager | Manager für digitale Transformation | responsable de transformación digital | 数字化转型经理
agile coach | Agile Coach | coach ágil | 敏捷转型教练
chip design engineer | Chipdesign-Ingenieur | ingeniero de diseño de chips | 芯片设计工程师
`;
